// Swift Testing suites for SousLLM live in this folder.
