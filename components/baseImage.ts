/**
 * The base image of every image the program builds. Pulumi.yaml's default
 * for `mail-system:baseImage`, toolchain/versions.env's BASE_IMAGE (what
 * setup pulls or makes) and the Dockerfiles' ARG defaults are checked
 * against it (tests/unit/baseImage.test.ts, tests/unit/pulumiYaml.test.ts).
 */
export const BASE_IMAGE = "debian:bookworm-slim";
