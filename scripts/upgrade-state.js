// Upgrades an exported stack state (`pulumi stack export`) made by an earlier
// version of the program: node scripts/upgrade-state.js IN OUT writes OUT only
// when something changed, and prints each change. scripts/upgrade-state.sh
// exports, runs this and imports.
"use strict";
const fs = require("fs");

/**
 * Earlier versions managed the mail database, its user and grant with
 * @pulumi/mysql; the program now makes them itself. Returns the state without
 * the mysql provider and its resources, and without any other resource's
 * dependencies on them (nothing else changes), and the URNs it removed.
 */
function withoutMysqlProvider(state) {
  const resources = state.deployment?.resources ?? [];
  const gone = new Set(resources.filter((r) => r.type === "pulumi:providers:mysql" || r.type.startsWith("mysql:")).map((r) => r.urn));
  if (gone.size === 0) return { state, removed: [] };
  const keep = (urns) => urns.filter((u) => !gone.has(u));
  const upgraded = resources
    .filter((r) => !gone.has(r.urn))
    .map((r) => ({
      ...r,
      ...(r.dependencies ? { dependencies: keep(r.dependencies) } : {}),
      ...(r.propertyDependencies
        ? { propertyDependencies: Object.fromEntries(Object.entries(r.propertyDependencies).map(([k, v]) => [k, keep(v)])) }
        : {}),
    }));
  return { state: { ...state, deployment: { ...state.deployment, resources: upgraded } }, removed: [...gone] };
}

module.exports = { withoutMysqlProvider };

if (require.main === module) {
  const [input, output] = process.argv.slice(2);
  const { state, removed } = withoutMysqlProvider(JSON.parse(fs.readFileSync(input, "utf8")));
  for (const urn of removed) console.log(`upgrade-state: removed ${urn} (the program now manages the database itself)`);
  if (removed.length > 0) fs.writeFileSync(output, JSON.stringify(state));
}
