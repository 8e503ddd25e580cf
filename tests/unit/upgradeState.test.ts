// scripts/upgrade-state.js: a state made with @pulumi/mysql loses the mysql
// provider and its resources, and nothing else (end to end: README "Upgrading").
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { withoutMysqlProvider } = require("../../scripts/upgrade-state.js") as {
  withoutMysqlProvider(state: unknown): { state: { deployment: { resources: Resource[] } }; removed: string[] };
};

interface Resource {
  urn: string;
  type: string;
  provider?: string;
  dependencies?: string[];
  propertyDependencies?: Record<string, string[]>;
}

const urn = (type: string, name: string) => `urn:pulumi:dev::mail-system::mail-system:index:MysqlServer$${type}::${name}`;
const provider = urn("pulumi:providers:mysql", "db-admin");
const database = urn("mysql:index/database:Database", "db-database");
const grant = urn("mysql:index/grant:Grant", "db-app-select");
const schema = urn("command:local:Command", "db-schema");
const mailFiles = "urn:pulumi:dev::mail-system::mail-system:index:MailServer$docker:index/container:Container::mail";

const old = {
  version: 3,
  deployment: {
    manifest: { time: "2026-11-30T00:00:00Z" },
    resources: [
      { urn: provider, type: "pulumi:providers:mysql", inputs: { username: "mail_system_admin" } },
      { urn: database, type: "mysql:index/database:Database", provider: `${provider}::id` },
      { urn: grant, type: "mysql:index/grant:Grant", provider: `${provider}::id`, dependencies: [database] },
      { urn: schema, type: "command:local:Command", dependencies: [database] },
      { urn: mailFiles, type: "docker:index/container:Container", dependencies: [schema, grant], propertyDependencies: { uploads: [grant], name: [] } },
    ],
  },
};

test("the mysql provider and its resources leave; the others keep everything but dependencies on them", () => {
  const { state, removed } = withoutMysqlProvider(old);
  expect(removed.sort()).toEqual([provider, database, grant].sort());
  expect(state.deployment.resources.map((r) => r.urn)).toEqual([schema, mailFiles]);
  expect(state.deployment.resources[0]).toEqual({ urn: schema, type: "command:local:Command", dependencies: [] });
  expect(state.deployment.resources[1]).toEqual({
    urn: mailFiles,
    type: "docker:index/container:Container",
    dependencies: [schema],
    propertyDependencies: { uploads: [], name: [] },
  });
  expect((state as unknown as typeof old).deployment.manifest).toEqual(old.deployment.manifest);
  expect(old.deployment.resources).toHaveLength(5); // the input is not changed
});

test("a state without them is returned as it is", () => {
  const current = { version: 3, deployment: { resources: old.deployment.resources.slice(3) } };
  const { state, removed } = withoutMysqlProvider(current);
  expect(removed).toEqual([]);
  expect(state).toBe(current);
});
