// The local cloud: see docs/local-cloud.md.
enum SousLocalCloudModule {}
