import { dkimSigningSelector } from "../../components/render/dkimRollover";

const DAY = 86400;
const T = 1_800_000_000;

test("a first deployment or a new domain: the configured key signs at once, with nothing older to wait for", () => {
  expect(dkimSigningSelector([{ selector: "mail", publishedAt: T }], "mail", DAY, T)).toEqual({ selector: "mail" });
  // The next key published from the start (same time): still the configured one.
  expect(dkimSigningSelector([{ selector: "mail", publishedAt: T }, { selector: "s2", publishedAt: T }], "mail", DAY, T)).toEqual({ selector: "mail" });
});

test("publishing the next key changes nothing: the configured key goes on signing", () => {
  expect(dkimSigningSelector([{ selector: "mail", publishedAt: T - 30 * DAY }, { selector: "s2", publishedAt: T }], "mail", DAY, T)).toEqual({ selector: "mail" });
});

test("switching to a key published less than the wait ago: the older key signs until the wait is over, then the new one", () => {
  const keys = [
    { selector: "mail", publishedAt: T - 30 * DAY },
    { selector: "s2", publishedAt: T - 3600 },
  ];
  expect(dkimSigningSelector(keys, "s2", DAY, T)).toEqual({ selector: "mail", waitingUntil: T - 3600 + DAY });
  expect(dkimSigningSelector(keys, "s2", DAY, T - 3600 + DAY)).toEqual({ selector: "s2" });
  // No wait configured: at once.
  expect(dkimSigningSelector(keys, "s2", 0, T)).toEqual({ selector: "s2" });
});

test("with several older keys, the one published first signs meanwhile", () => {
  const keys = [
    { selector: "b", publishedAt: T - 10 * DAY },
    { selector: "a", publishedAt: T - 20 * DAY },
    { selector: "new", publishedAt: T },
  ];
  expect(dkimSigningSelector(keys, "new", DAY, T).selector).toBe("a");
});

test("an unknown selector or a negative wait is refused with a clear message", () => {
  expect(() => dkimSigningSelector([{ selector: "mail", publishedAt: T }], "s2", DAY, T)).toThrow('DKIM: no key for the signing selector "s2"');
  expect(() => dkimSigningSelector([{ selector: "mail", publishedAt: T }], "mail", -1, T)).toThrow("DKIM: the rollover wait must be 0 or more seconds, not -1");
});
