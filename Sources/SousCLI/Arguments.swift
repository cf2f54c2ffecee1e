public import ArgumentParser
public import SousStreaming

// Enum options parsed by argument-parser: an unknown value is refused with the list of valid ones, and
// `--help` shows them. The types live in SousStreaming, which does not import ArgumentParser.

extension PromptTemplate: ExpressibleByArgument {}
extension StreamFormat: ExpressibleByArgument {}
