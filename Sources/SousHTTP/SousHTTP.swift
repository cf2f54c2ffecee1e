// SousHTTP module. See README.md for its place in the layers.
enum SousHTTPModule {}
