// Swift Testing suites for SousRecipe live in this folder.
