// Which of a domain's DKIM keys signs, during a rollover: a pure function of
// when each key was first published, so receivers never meet a signature
// whose key they cannot yet fetch (a secondary or a cache still without it).
// The new selector's key is published first; only once it has been in the
// zone for the configured wait does it sign. Until then the domain keeps
// signing with the key it had (the longest published of the others).

/** One published key of a domain: its selector and when the program first published it (Unix seconds). */
export interface PublishedDkimKey {
  readonly selector: string;
  readonly publishedAt: number;
}

/** The selector that signs and, when it is not the configured one, until when (Unix seconds) it waits. */
export interface DkimSigningChoice {
  readonly selector: string;
  readonly waitingUntil?: number;
}

/**
 * The configured selector signs once its key has been published for
 * `waitSeconds`, or at once when no other key of the domain was published
 * before it (a new domain, a first deployment: nothing signed before).
 * Otherwise the key published earliest among the others signs meanwhile.
 */
export function dkimSigningSelector(keys: readonly PublishedDkimKey[], configured: string, waitSeconds: number, now: number): DkimSigningChoice {
  const wanted = keys.find((k) => k.selector === configured);
  if (!wanted) throw new Error(`DKIM: no key for the signing selector ${JSON.stringify(configured)}`);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new Error(`DKIM: the rollover wait must be 0 or more seconds, not ${waitSeconds}`);
  const ready = wanted.publishedAt + waitSeconds;
  if (now >= ready) return { selector: configured };
  const earlier = keys.filter((k) => k.selector !== configured && k.publishedAt < wanted.publishedAt).sort((a, b) => a.publishedAt - b.publishedAt)[0];
  return earlier ? { selector: earlier.selector, waitingUntil: ready } : { selector: configured };
}
