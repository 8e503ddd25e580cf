/** Unit tests are fast and need nothing; e2e tests drive real `pulumi up`s. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  // Fixture programs are run by the Pulumi CLI, not by jest.
  testPathIgnorePatterns: ["/node_modules/", "/fixtures/"],
};
