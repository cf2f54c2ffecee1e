enum SousTestSupportModule {}
