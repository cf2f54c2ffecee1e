import ArgumentParser
import Foundation
import SousRecipe
import SousSteps
import SousYAML

/// `sous new NAME [--from RECIPE] [--inline] [--dir DIR]`.
struct NewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write a new recipe NAME.yaml: from a template, or from an existing recipe (a path or a URL).",
        discussion: """
            Without --from: a small commented recipe that runs at once on this machine, with the steps that \
            deploy it on the local cloud (or AWS) commented out, ready to uncomment. With --from RECIPE: a \
            recipe that `extends:` it (a URL pinned with #sha256= of what was fetched), with the base's params \
            and their defaults listed in a commented-out `params:` block. With --inline: one self-contained \
            file holding the recipe merged with its bases (comments are not copied). The new file is checked \
            like `sous validate` before it is written; an existing file is never overwritten.
            """)

    @Argument(help: "The new recipe's name: NAME.yaml is written (it also names the recipe's workspace folder).")
    var name: String
    @Option(name: .customLong("from"), help: ArgumentHelp("Start from this recipe: a path, an https:// URL or github:OWNER/REPO/PATH@REF.", valueName: "recipe"))
    var from: String?
    @Flag(name: .long, help: "With --from: write one self-contained file with the bases merged in, instead of `extends:`.")
    var inline = false
    @Option(name: .customLong("dir"), help: ArgumentHelp("The folder to write NAME.yaml in (default: the current folder).", valueName: "dir"))
    var dir: String?
    @Option(name: .customLong("workspace"), help: "The workspace whose cache keeps fetched recipes (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?

    /// NAME without a `.yaml`/`.yml` a user may have typed.
    var stem: String {
        for ext in [".yaml", ".yml"] where name.hasSuffix(ext) { return String(name.dropLast(ext.count)) }
        return name
    }

    func validate() throws {
        if stem.wholeMatch(of: #/[A-Za-z0-9][A-Za-z0-9._\-]*/#) == nil {
            throw ValidationError("NAME must be letters, digits, '.', '-' or '_' (it names the file and the recipe's workspace folder)")
        }
        if inline && from == nil { throw ValidationError("--inline takes --from RECIPE (the recipe to merge into one file)") }
    }

    func run() async throws {
        let cwd = FileManager.default.currentDirectoryPath
        let folderArg = dir ?? "."
        let folder = URL(fileURLWithPath: folderArg.hasPrefix("/") ? folderArg : cwd + "/" + folderArg).standardizedFileURL.path
        let target = folder + "/" + stem + ".yaml"
        let shown = dir == nil ? stem + ".yaml" : (folderArg as NSString).appendingPathComponent(stem + ".yaml")
        if FileManager.default.fileExists(atPath: target) {
            Console.err("error: \(shown) exists; sous new never overwrites a file (choose another NAME, or --dir)\n")
            throw ExitCode(64)
        }
        let registry = BuiltinSteps.registry()
        let loader = RecipeOptions.loader(registry: registry, workspaceRoot: RecipeOptions.rootFor(workspace))
        let text: String
        let summary: String
        if let from {
            let composed: ComposedRecipe
            do { composed = try await loader.compose(reference: from) } catch {
                Console.err(error.description + "\n")
                throw ExitStatus.invalid
            }
            if inline {
                text = try Self.inlined(composed, name: stem, from: from)
                summary = "\(from) with its bases merged in, one file"
            } else {
                let reference = Self.extendsReference(from, recipe: composed.recipe, folder: folder, cwd: cwd)
                text = Self.extending(composed.recipe, name: stem, reference: reference)
                let n = composed.recipe.params.count
                summary = "extends \(reference)" + (n == 0 ? "" : "; its \(n) param\(n == 1 ? " is" : "s are") listed, commented out")
            }
        } else {
            text = Self.template(name: stem)
            summary = "the template: renders serving.properties and model.tar.gz; uncomment the rest to deploy"
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try await Self.writeChecked(text, to: target, loader: loader)
        Console.out("wrote \(shown) (\(summary))\n")
        let q = shown.contains(" ") ? "'\(shown)'" : shown
        Console.out("next: sous validate \(q) · sous params \(q) · sous plan \(q) · sous run \(q)\n")
    }

    /// Writes `text` to `target` only if it validates, without ever replacing a file: it is written
    /// to a temporary file beside the target, loaded like `sous validate` would, then hard-linked to
    /// the target (`link` fails when the target exists).
    static func writeChecked(_ text: String, to target: String, loader: RecipeLoader) async throws {
        let folder = (target as NSString).deletingLastPathComponent
        let temp = folder + "/." + (target as NSString).lastPathComponent + ".new-\(getpid())"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
        defer { unlink(temp) }
        do { _ = try await loader.load(reference: temp) } catch {
            Console.err(error.description.replacingOccurrences(of: temp, with: target) + "\n")
            Console.err("error: sous new made a recipe that does not validate (a bug: please report it); nothing was written\n")
            throw ExitStatus.invalid
        }
        guard link(temp, target) == 0 else {
            let e = errno
            Console.err("error: cannot write \(target): \(e == EEXIST ? "it exists (sous new never overwrites a file)" : String(cString: strerror(e)))\n")
            throw ExitCode(e == EEXIST ? 64 : 1)
        }
    }

    // MARK: - extending a recipe

    /// What `extends:` says: a local recipe relative to the new file's folder; a URL (or `github:`
    /// reference) as given, pinned with the SHA-256 of the file fetched.
    static func extendsReference(_ from: String, recipe: Recipe, folder: String, cwd: String) -> String {
        if RemoteRecipeReference.isRemote(from) {
            let bare = from.split(separator: "#", maxSplits: 1).first.map(String.init) ?? from
            return recipe.sources.first?.sha256.map { "\(bare)#sha256=\($0)" } ?? from
        }
        let absolute = URL(fileURLWithPath: from.hasPrefix("/") ? from : cwd + "/" + from).standardizedFileURL.path
        return relativePath(from: folder, to: absolute)
    }

    /// `file` relative to `folder` (`../recipes/x.yaml`), or absolute when they share only `/`.
    static func relativePath(from folder: String, to file: String) -> String {
        let a = URL(fileURLWithPath: folder).standardizedFileURL.pathComponents
        let b = URL(fileURLWithPath: file).standardizedFileURL.pathComponents
        var i = 0
        while i < a.count, i < b.count - 1, a[i] == b[i] { i += 1 }
        if i <= 1 { return file }
        return (Array(repeating: "..", count: a.count - i) + b[i...]).joined(separator: "/")
    }

    /// A recipe that extends `reference`, its params and steps listed in comments.
    static func extending(_ base: Recipe, name: String, reference: String) -> String {
        var out = "# \(name): extends \(reference)"
        if let d = base.description { out += "\n#   (\(oneLine(d)))" }
        out += """

            #
            #   sous params \(name).yaml     its params and secrets, with defaults and where each is declared
            #   sous validate \(name).yaml   checks it; sous plan \(name).yaml says what a run would do
            #
            # Params merge by name, field by field (a child's default keeps the base's type and
            # description); steps merge by id (a step with a base step's id changes it, `remove: true`
            # drops it, new steps come after); see the README's "Sharing a base".
            extends: \(yamlScalar(reference))

            """
        if let d = base.description { out += "# description: \(yamlScalar(d))\n" }
        if !base.params.isEmpty {
            out += "\n# The base's params with their defaults: uncomment `params:` and the ones to change\n"
            out += "# (-p NAME=VALUE changes one for a single run).\n# params:\n"
            for p in base.params {
                var facts = [p.type.rawValue]
                if p.required { facts.append("required: give -p \(p.name)=… or a default here") }
                facts.append("from \(p.declaredIn)")
                out += "#   # \(p.description.map { oneLine($0) + "; " } ?? "")\(facts.joined(separator: ", "))\n"
                let spec: YAMLNode =
                    if let d = p.defaultValue {
                        .mapping([YAMLPair(key: Value.string("default").yamlNode, value: d.yamlNode)], mark: d.yamlNode.mark)
                    } else {
                        .mapping([YAMLPair(key: Value.string("required").yamlNode, value: Value.bool(p.required).yamlNode)], mark: YAMLMark(line: 1, column: 1))
                    }
                let flow = (try? YAMLEmitter.emit(spec, flow: true)) ?? "{}"
                out += "#   \(yamlKey(p.name)): \(flow)\n"
            }
        }
        if !base.secrets.isEmpty {
            out += "\n# The base's secrets (references, never values): "
            out += base.secrets.map { "\($0.name) from \($0.source)\($0.required ? "" : " (optional)")" }.joined(separator: ", ") + ".\n"
        }
        out += "\n# The base's steps, in order: \(base.steps.map(\.id).joined(separator: ", ")).\n"
        out += "# To change one, list it by id under `steps:` with the inputs to change.\n"
        return out
    }

    // MARK: - inlining a recipe

    /// The recipe merged with its bases as one file. `${{ recipe.dir }}` is replaced by the folder
    /// of the recipe it was made from, which is what it meant there.
    static func inlined(_ composed: ComposedRecipe, name: String, from: String) throws -> String {
        let dir = composed.recipe.directory
        let yaml = try YAMLEmitter.emit(replacingRecipeDir(composed.yaml, with: dir))
        var header = "# \(name): \(from) with its bases and included files merged in (by `sous new --inline`).\n"
        let remote = composed.recipe.sources.filter { $0.sha256 != nil }
        for f in remote { header += "#   from \(f.path) sha256 \(f.sha256 ?? "")\n" }
        header += "# Comments are not copied; ${{ recipe.dir }} is replaced by \(dir), its value there.\n"
        return header + yaml
    }

    static func replacingRecipeDir(_ node: YAMLNode, with dir: String) -> YAMLNode {
        switch node {
        case .scalar(let text, let style, let tag, let mark):
            guard text.contains("${{") else { return node }
            let replaced = text.replacing(#/\$\{\{\s*recipe\.dir\s*\}\}/#) { _ in dir }
            return .scalar(replaced, style: style, tag: tag, mark: mark)
        case .sequence(let items, let mark): return .sequence(items.map { replacingRecipeDir($0, with: dir) }, mark: mark)
        case .mapping(let pairs, let mark):
            return .mapping(pairs.map { YAMLPair(key: $0.key, value: replacingRecipeDir($0.value, with: dir)) }, mark: mark)
        }
    }

    // MARK: - text helpers

    static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// `s` as a YAML scalar on one line (quoted when plain would not read back as this string).
    static func yamlScalar(_ s: String) -> String {
        (try? YAMLEmitter.emit(Value.string(s).yamlNode, flow: true)) ?? "\"\(s)\""
    }

    static func yamlKey(_ s: String) -> String { yamlScalar(s) }

    // MARK: - the template

    /// A small recipe that validates and runs at once on this machine, with the deployment on the
    /// local cloud (or AWS) commented out below a marker line, ready to uncomment.
    static func template(name: String) -> String {
        let base = String(name.map { $0.isLetter || $0.isNumber ? $0 : "-" }).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return """
            # \(name): a sous recipe, written by `sous new \(name)`.
            #
            #   sous validate \(name).yaml   checks it (keys, step kinds, inputs, references)
            #   sous plan \(name).yaml       says what a run would do, and why
            #   sous run \(name).yaml        runs it; each step's result is cached in ./workspace/\(name)/
            #   sous params \(name).yaml     lists its params; -p NAME=VALUE overrides one for a run
            #
            # As written it renders serving.properties for a DJL Serving LMI endpoint, packs it as
            # model.tar.gz and prints where the archive is: nothing leaves this machine. To deploy the
            # model and stream an answer on sous's built-in local cloud (S3 + SageMaker on 127.0.0.1, no
            # AWS account), uncomment `local: true` and the steps after the marker at the end, as
            # recipes/quickstart.yaml does; without `local: true` the same steps run on AWS (the README's
            # "Running on AWS"). `sous steps` lists the step kinds, `sous steps KIND` documents one.
            description: serving.properties and model.tar.gz for a small model on DJL Serving LMI
            # local: true
            params:
              model_id:
                type: string
                default: HuggingFaceTB/SmolLM2-135M-Instruct
                description: the model, a Hugging Face Hub id or a snapshot folder on disk
              tensor_parallel_degree:
                type: int
                default: 1
                description: GPUs to shard the model over (option.tensor_parallel_degree)
              instance_type:
                type: string
                default: ml.g5.2xlarge
                description: the endpoint's instance type on AWS
              prefix:
                type: string
                default: sous/\(base.isEmpty ? "recipe" : base)
                description: S3 prefix model.tar.gz is uploaded under
              question:
                type: string
                default: Write a haiku about cooking.
                description: what the ask step asks the model
              max_new_tokens:
                type: int
                default: 128
                description: the longest answer, in tokens
              poll_interval:
                type: number
                default: 5
                description: seconds between endpoint status checks
              region:
                type: string
                default: ""
                description: AWS region (empty = AWS_REGION or the profile's region)
              role:
                type: string
                default: ""
                description: SageMaker execution role ARN (empty = $SOUS_SAGEMAKER_ROLE; the local cloud needs none)
            secrets:
              hf_token:
                from: env:HF_TOKEN
                required: false
                description: Hugging Face token, for gated or private models
            steps:
              - id: properties
                name: Write serving.properties
                uses: file.write
                with:
                  path: code/serving.properties
                  properties:
                    - engine: MPI
                    - option.entryPoint: djl_python.huggingface
                    - option.model_id: ${{ params.model_id }}
                    - option.tensor_parallel_degree: ${{ params.tensor_parallel_degree }}
                    - option.rolling_batch: lmi-dist
                    - option.max_rolling_batch_size: 16

              - id: package
                name: Pack the code folder as model.tar.gz
                uses: archive.tar
                with:
                  source: ${{ steps.properties.outputs.dir }}
                  output: model.tar.gz

              - id: show
                uses: print
                with:
                  values:
                    archive: ${{ steps.package.outputs.path }}
                    sha256: ${{ steps.package.outputs.sha256 }}

              # ---- deploy and ask: uncomment from here to the end (and `local: true` above) ----
              # - id: bucket
              #   name: The SageMaker default bucket
              #   uses: s3.default-bucket
              #   with:
              #     region: ${{ params.region }}
              # - id: upload
              #   name: Upload model.tar.gz
              #   uses: s3.upload
              #   with:
              #     source: ${{ steps.package.outputs.path }}
              #     bucket: ${{ steps.bucket.outputs.bucket }}
              #     prefix: ${{ params.prefix }}/code
              #     region: ${{ params.region }}
              # - id: image
              #   uses: sagemaker.image-uri
              #   with:
              #     framework: djl-lmi
              #     version: "0.28.0"
              #     region: ${{ params.region }}
              # - id: model
              #   uses: sagemaker.model
              #   with:
              #     base_name: \(base.isEmpty ? "recipe" : base)
              #     image: ${{ steps.image.outputs.image }}
              #     model_data: ${{ steps.upload.outputs.uri }}
              #     env:
              #       HF_TOKEN: ${{ secrets.hf_token }}
              #     role: ${{ params.role }}
              #     region: ${{ params.region }}
              # - id: config
              #   uses: sagemaker.endpoint-config
              #   with:
              #     model_name: ${{ steps.model.outputs.model_name }}
              #     instance_type: ${{ params.instance_type }}
              #     region: ${{ params.region }}
              # - id: endpoint
              #   name: Create the endpoint and wait for InService
              #   uses: sagemaker.endpoint
              #   with:
              #     endpoint_config_name: ${{ steps.config.outputs.endpoint_config_name }}
              #     poll_interval: ${{ params.poll_interval }}
              #     region: ${{ params.region }}
              # - id: ask
              #   name: Ask the model (the answer streams)
              #   uses: sagemaker.invoke-stream
              #   with:
              #     endpoint: ${{ steps.endpoint.outputs.endpoint_name }}
              #     container: ${{ steps.image.outputs.image }}
              #     template: chatml
              #     user: ${{ params.question }}
              #     parameters:
              #       max_new_tokens: ${{ params.max_new_tokens }}
              #       temperature: 0.7
              #     region: ${{ params.region }}
              # - id: cleanup
              #   name: Delete the endpoint, its config and model
              #   uses: sagemaker.delete
              #   with:
              #     endpoint_name: ${{ steps.endpoint.outputs.endpoint_name }}
              #     region: ${{ params.region }}

            """
    }
}

/// `sous params RECIPE [--json]`.
struct ParamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "params",
        abstract: "List a recipe's params (type, default, required, description, the file declaring it) and secrets.",
        discussion: "RECIPE is a path, an https:// URL or github:OWNER/REPO/PATH@REF, as for `sous run`.")

    @Argument(help: "The recipe: a YAML file, an https:// URL, or github:OWNER/REPO/PATH.yaml@REF.")
    var recipe: String
    @Flag(name: .long, help: "Print a JSON list of objects (kind param or secret).")
    var json = false
    @Option(name: .customLong("workspace"), help: "The workspace whose cache keeps fetched recipes (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?

    func run() async throws {
        let loader = RecipeOptions.loader(registry: BuiltinSteps.registry(), workspaceRoot: RecipeOptions.rootFor(workspace))
        let r: Recipe
        do { r = try await loader.load(reference: recipe) } catch {
            Console.err(error.description + "\n")
            throw ExitStatus.invalid
        }
        if json {
            Console.out(Value.list(Self.json(r)).jsonString(pretty: true) + "\n")
            return
        }
        let style = OutputStyle(json: false, quiet: false, verbose: false)
        for line in RecipeOptions.origins(r) { Console.out(style.dim(line) + "\n") }
        Console.out(Self.text(r, style: style))
    }

    /// One object per param (`kind: param`) and per secret (`kind: secret`).
    static func json(_ r: Recipe) -> [Value] {
        let params = r.params.map { p -> Value in
            .map([
                "kind": .string("param"), "name": .string(p.name), "type": .string(p.type.rawValue),
                "default": p.defaultValue ?? .null, "required": .bool(p.required),
                "description": p.description.map(Value.string) ?? .null, "file": .string(p.declaredIn),
                "default_file": p.defaultIn.map(Value.string) ?? .null,
            ])
        }
        let secrets = r.secrets.map { s -> Value in
            .map([
                "kind": .string("secret"), "name": .string(s.name), "source": .string(s.source.description),
                "required": .bool(s.required), "description": s.description.map(Value.string) ?? .null,
                "file": .string(s.declaredIn),
            ])
        }
        return params + secrets
    }

    /// The params and secrets, one block each: name, type and default (or `required`), then the
    /// description and where it is declared.
    static func text(_ r: Recipe, style: OutputStyle) -> String {
        var out = "\(r.path): \(r.params.count) param\(r.params.count == 1 ? "" : "s"), \(r.secrets.count) secret\(r.secrets.count == 1 ? "" : "s")\n"
        let width = (r.params.map(\.name.count) + r.secrets.map(\.name.count)).max() ?? 0
        let typeWidth = (r.params.map(\.type.rawValue.count) + r.secrets.map(\.source.description.count)).max() ?? 0
        let indent = String(repeating: " ", count: width + 4)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
        if !r.params.isEmpty {
            out += "\nparams (override with -p NAME=VALUE or --params FILE.yaml):\n"
            for p in r.params {
                let value: String =
                    if let d = p.defaultValue { "default " + shortValue(d) } else if p.required { style.yellow("required") } else { "no default" }
                out += "  \(style.bold(pad(p.name, width)))  \(pad(p.type.rawValue, typeWidth))  \(value)\n"
                if let d = p.description { out += indent + NewCommand.oneLine(d) + "\n" }
                var whereFrom = "declared in \(p.declaredIn)"
                if let f = p.defaultIn, f != p.declaredIn { whereFrom += ", default set in \(f)" }
                out += indent + style.dim(whereFrom) + "\n"
            }
        }
        if !r.secrets.isEmpty {
            out += "\nsecrets (values are read at run time, never stored):\n"
            for s in r.secrets {
                out += "  \(style.bold(pad(s.name, width)))  \(pad(s.source.description, typeWidth))  \(s.required ? style.yellow("required") : "optional")\n"
                if let d = s.description { out += indent + NewCommand.oneLine(d) + "\n" }
                out += indent + style.dim("declared in \(s.declaredIn)") + "\n"
            }
        }
        return out
    }

    /// A value on one line as YAML flow text, cut at 72 characters.
    static func shortValue(_ v: Value) -> String {
        let text = (try? YAMLEmitter.emit(v.yamlNode, flow: true)) ?? v.jsonString()
        return text.count > 72 ? String(text.prefix(71)) + "…" : text
    }
}
