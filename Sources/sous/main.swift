import SousCLI

await runSous()
