library(testthat)
library(clusterab)

test_check("clusterab")
