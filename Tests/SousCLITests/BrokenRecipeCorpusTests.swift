import Foundation
import SousEngine
import SousRecipe
import SousSteps
import Testing

/// A corpus of broken recipes: each must fail validation with exactly this message.
/// (Rendered as `sous validate` prints it: `file:line:col: error: …`, the line, a caret.)
@Suite struct BrokenRecipeCorpusTests {
    static let cases: [(name: String, yaml: String, expected: String)] = [
        (
            "allowed",
            #"""
            name: x
            steps:
              - id: a
                uses: archive.tar
                with:
                  source: src
                  output: a.tar
                  compression: zip
            """#,
            #"""
            allowed.yaml:8:20: error: step 'a' (archive.tar): input 'compression' must be one of auto, none, gzip; found 'zip'; did you mean 'gzip'?
                  compression: zip
                               ^
            """#
        ),
        (
            "bad_expr_root",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with:
                  message: "${{ parms.x }}"
            """#,
            #"""
            bad_expr_root.yaml:6:17: error: unknown expression root 'parms'; did you mean 'params'? (known: params, secrets, env, steps, run, workspace, recipe)
                  message: "${{ parms.x }}"
                            ^
            """#
        ),
        (
            "bad_expr_steps",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with: {message: hi}
              - id: b
                uses: print
                with:
                  message: "${{ steps.a.text }}"
            """#,
            #"""
            bad_expr_steps.yaml:9:17: error: invalid expression 'steps.a.text': step outputs are written steps.<id>.outputs.<name>
                  message: "${{ steps.a.text }}"
                            ^
            """#
        ),
        (
            "bad_id",
            #"""
            name: x
            steps:
              - id: 1abc
                uses: print
                with: {message: hi}
            """#,
            #"""
            bad_id.yaml:3:9: error: step id '1abc' must start with a letter and hold only letters, digits, '-' or '_'
              - id: 1abc
                    ^
            """#
        ),
        (
            "bad_name",
            #"""
            name: my recipe!
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            bad_name.yaml:1:7: error: 'name' must be letters, digits, '.', '-' or '_' (it names the recipe's folder in the workspace)
            name: my recipe!
                  ^
            """#
        ),
        (
            "cycle",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with:
                  message: "${{ steps.b.outputs.text }}"
              - id: b
                uses: print
                with:
                  message: "${{ steps.a.outputs.text }}"
            """#,
            #"""
            cycle.yaml:6:16: error: cycle between steps: a -> b -> a
                  message: "${{ steps.b.outputs.text }}"
                           ^
            """#
        ),
        (
            "dup_id",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with: {message: hi}
              - id: a
                uses: print
                with: {message: ho}
            """#,
            #"""
            dup_id.yaml:6:9: error: duplicate step id 'a' (first used at line 3)
              - id: a
                    ^
            """#
        ),
        (
            "empty_expr",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with:
                  message: "${{ }}"
            """#,
            #"""
            empty_expr.yaml:6:17: error: empty expression '${{ }}'
                  message: "${{ }}"
                            ^
            """#
        ),
        (
            "empty_file",
            "",
            #"""
            empty_file.yaml:1:1: error: the recipe is empty: it needs at least a 'steps' list

            ^
            """#
        ),
        (
            "expr_type_mismatch",
            #"""
            name: x
            params:
              n: {type: int, default: 3}
            steps:
              - id: a
                uses: archive.tar
                with:
                  source: src
                  output: a.tar
                  include_top_folder: ${{ params.n }}
            """#,
            #"""
            expr_type_mismatch.yaml:10:27: error: step 'a' (archive.tar): input 'include_top_folder' must be a bool, but params.n is an int
                  include_top_folder: ${{ params.n }}
                                      ^
            """#
        ),
        (
            "interp_not_bool",
            #"""
            name: x
            params:
              top: {type: bool, default: false}
            steps:
              - id: a
                uses: archive.tar
                with:
                  source: src
                  output: a.tar
                  include_top_folder: "is ${{ params.top }}"
            """#,
            #"""
            interp_not_bool.yaml:10:27: error: step 'a' (archive.tar): input 'include_top_folder' must be a bool, but text with ${{ }} inside is a string
                  include_top_folder: "is ${{ params.top }}"
                                      ^
            """#
        ),
        (
            "later_step_ref",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with:
                  message: "${{ steps.b.outputs.text }}"
              - id: b
                uses: print
                with: {message: hi}
            """#,
            #"""
            later_step_ref.yaml:6:16: error: step 'a' uses outputs of step 'b', which runs later; move 'b' before 'a'
                  message: "${{ steps.b.outputs.text }}"
                           ^
            """#
        ),
        (
            "local_not_bool",
            #"""
            name: x
            local: sometimes
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            local_not_bool.yaml:2:8: error: 'local' must be true or false
            local: sometimes
                   ^
            """#
        ),
        (
            "missing_id",
            #"""
            name: x
            steps:
              - uses: print
                with: {message: hi}
            """#,
            #"""
            missing_id.yaml:3:5: error: step is missing 'id'
              - uses: print
                ^
            """#
        ),
        (
            "missing_input",
            #"""
            name: x
            steps:
              - id: a
                uses: archive.tar
                with:
                  output: a.tar
            """#,
            #"""
            missing_input.yaml:4:11: error: step 'a' (archive.tar): missing required input 'source' (path: the folder to pack)
                uses: archive.tar
                      ^
            """#
        ),
        (
            "missing_steps",
            #"""
            name: x
            params: {}
            """#,
            #"""
            missing_steps.yaml:1:1: error: missing required key 'steps'
            name: x
            ^
            """#
        ),
        (
            "missing_uses",
            #"""
            name: x
            steps:
              - id: a
                with: {message: hi}
            """#,
            #"""
            missing_uses.yaml:3:5: error: step 'a' is missing 'uses' (its step kind; `sous steps` lists them)
              - id: a
                ^
            """#
        ),
        (
            "no_params_ref",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with:
                  message: "${{ params.model }}"
            """#,
            #"""
            no_params_ref.yaml:6:16: error: unknown param 'model' (the recipe declares no params)
                  message: "${{ params.model }}"
                           ^
            """#
        ),
        (
            "null_required",
            #"""
            name: x
            steps:
              - id: a
                uses: file.write
                with:
                  path:
                  content: hi
            """#,
            #"""
            null_required.yaml:6:12: error: step 'a' (file.write): input 'path' is required and cannot be null
                  path:
                       ^
            """#
        ),
        (
            "param_bad_default",
            #"""
            name: x
            params:
              n:
                type: int
                default: three
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            param_bad_default.yaml:5:14: error: param 'n': default must be an int, found a string ('three')
                default: three
                         ^
            """#
        ),
        (
            "param_required_bool",
            #"""
            name: x
            params:
              n: {type: int, required: yes-please}
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            param_required_bool.yaml:3:28: error: param 'n': 'required' must be true or false
              n: {type: int, required: yes-please}
                                       ^
            """#
        ),
        (
            "param_required_default",
            #"""
            name: x
            params:
              n: {type: int, required: true, default: 3}
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            param_required_default.yaml:3:3: error: param 'n' is required and has a default; choose one
              n: {type: int, required: true, default: 3}
              ^
            """#
        ),
        (
            "param_unknown_key",
            #"""
            name: x
            params:
              n: {type: int, defualt: 3}
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            param_unknown_key.yaml:3:18: error: param 'n': unknown key 'defualt'; did you mean 'default'? (known: type, default, required, description)
              n: {type: int, defualt: 3}
                             ^
            """#
        ),
        (
            "param_unknown_type",
            #"""
            name: x
            params:
              n: {type: integer, default: 3}
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            param_unknown_type.yaml:3:13: error: param 'n': unknown type 'integer' (types: string, int, number, bool, list, map, any, path)
              n: {type: integer, default: 3}
                        ^
            """#
        ),
        (
            "params_list",
            #"""
            name: x
            params: [a, b]
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            params_list.yaml:2:9: error: 'params' must be a map of name: spec, found a list
            params: [a, b]
                    ^
            """#
        ),
        (
            "root_list",
            #"""
            - a
            - b
            """#,
            #"""
            root_list.yaml:1:1: error: a recipe must be a map with a 'steps' list
            - a
            ^
            """#
        ),
        (
            "secret_map_nofrom",
            #"""
            name: x
            secrets:
              hf_token: {required: false}
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            secret_map_nofrom.yaml:3:3: error: secret 'hf_token' needs 'from: env:NAME' or 'from: file:PATH'
              hf_token: {required: false}
              ^
            """#
        ),
        (
            "secret_unknown_key",
            #"""
            name: x
            secrets:
              hf_token: {from: env:HF_TOKEN, requird: false}
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            secret_unknown_key.yaml:3:34: error: secret 'hf_token': unknown key 'requird'; did you mean 'required'? (known: from, required, description)
              hf_token: {from: env:HF_TOKEN, requird: false}
                                             ^
            """#
        ),
        (
            "secret_value",
            #"""
            name: x
            secrets:
              hf_token: hf_abcdefghijklmnop
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            secret_value.yaml:3:13: error: secret 'hf_token' must be a reference such as env:HF_TOKEN or file:PATH, not a value (secret values never go in recipes)
              hf_token: hf_abcdefghijklmnop
                        ^
            """#
        ),
        (
            "secrets_list",
            #"""
            name: x
            secrets: [env:HF_TOKEN]
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            secrets_list.yaml:2:10: error: 'secrets' must be a map of name: reference (env:NAME or file:PATH), found a list
            secrets: [env:HF_TOKEN]
                     ^
            """#
        ),
        (
            "self_ref",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with:
                  message: "${{ steps.a.outputs.text }}"
            """#,
            #"""
            self_ref.yaml:6:16: error: step 'a' refers to its own outputs
                  message: "${{ steps.a.outputs.text }}"
                           ^
            """#
        ),
        (
            "step_scalar",
            #"""
            name: x
            steps:
              - print
            """#,
            #"""
            step_scalar.yaml:3:5: error: a step must be a map with 'id' and 'uses', found a scalar
              - print
                ^
            """#
        ),
        (
            "steps_empty",
            #"""
            name: x
            steps: []
            """#,
            #"""
            steps_empty.yaml:2:8: error: 'steps' is empty: a recipe needs at least one step
            steps: []
                   ^
            """#
        ),
        (
            "steps_map",
            #"""
            name: x
            steps:
              a: b
            """#,
            #"""
            steps_map.yaml:3:3: error: 'steps' must be a list of steps, found a map
              a: b
              ^
            """#
        ),
        (
            "two_errors",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with: {mesage: hi}
              - id: b
                uses: fil.write
            """#,
            #"""
            two_errors.yaml:5:12: error: step 'a' (print): unknown input 'mesage'; did you mean 'message'? (inputs: message, values)
                with: {mesage: hi}
                       ^
            two_errors.yaml:7:11: error: unknown step kind 'fil.write'; did you mean 'file.write'? (`sous steps` lists them)
                uses: fil.write
                      ^
            """#
        ),
        (
            "unknown_input",
            #"""
            name: x
            steps:
              - id: a
                uses: file.write
                with: {pth: a.txt, content: hi}
            """#,
            #"""
            unknown_input.yaml:5:12: error: step 'a' (file.write): unknown input 'pth'; did you mean 'path'? (inputs: path, content, properties)
                with: {pth: a.txt, content: hi}
                       ^
            """#
        ),
        (
            "unknown_kind",
            #"""
            name: x
            steps:
              - id: a
                uses: file.wrte
                with: {path: a.txt, content: hi}
            """#,
            #"""
            unknown_kind.yaml:4:11: error: unknown step kind 'file.wrte'; did you mean 'file.write'? (`sous steps` lists them)
                uses: file.wrte
                      ^
            """#
        ),
        (
            "unknown_kind_far",
            #"""
            name: x
            steps:
              - id: a
                uses: teleport
            """#,
            #"""
            unknown_kind_far.yaml:4:11: error: unknown step kind 'teleport' (`sous steps` lists them)
                uses: teleport
                      ^
            """#
        ),
        (
            "unknown_output_ref",
            #"""
            name: x
            steps:
              - id: write
                uses: file.write
                with: {path: a.txt, content: hi}
              - id: b
                uses: print
                with:
                  message: "${{ steps.write.outputs.pth }}"
            """#,
            #"""
            unknown_output_ref.yaml:9:16: error: step 'write' (file.write) has no output 'pth'; did you mean 'path'? (outputs: path, dir, sha256, size)
                  message: "${{ steps.write.outputs.pth }}"
                           ^
            """#
        ),
        (
            "unknown_param_ref",
            #"""
            name: x
            params:
              model: {type: string, default: m}
            steps:
              - id: a
                uses: print
                with:
                  message: "using ${{ params.modle }}"
            """#,
            #"""
            unknown_param_ref.yaml:8:23: error: unknown param 'modle'; did you mean 'model'?
                  message: "using ${{ params.modle }}"
                                  ^
            """#
        ),
        (
            "unknown_secret_ref",
            #"""
            name: x
            secrets:
              hf_token: env:HF_TOKEN
            steps:
              - id: a
                uses: shell
                with:
                  command: echo
                  env: {T: "${{ secrets.hf_tokn }}"}
            """#,
            #"""
            unknown_secret_ref.yaml:9:16: error: unknown secret 'hf_tokn'; did you mean 'hf_token'?
                  env: {T: "${{ secrets.hf_tokn }}"}
                           ^
            """#
        ),
        (
            "unknown_step_key",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                wiht: {message: hi}
            """#,
            #"""
            unknown_step_key.yaml:5:5: error: unknown step key 'wiht'; did you mean 'with'? (known: id, uses, name, with, after, before, remove)
                wiht: {message: hi}
                ^
            """#
        ),
        (
            "unknown_step_ref",
            #"""
            name: x
            steps:
              - id: write
                uses: file.write
                with: {path: a.txt, content: hi}
              - id: b
                uses: print
                with:
                  message: "${{ steps.wirte.outputs.path }}"
            """#,
            #"""
            unknown_step_ref.yaml:9:16: error: unknown step 'wirte' in steps.wirte.outputs.path; did you mean 'write'?
                  message: "${{ steps.wirte.outputs.path }}"
                           ^
            """#
        ),
        (
            "unknown_top",
            #"""
            name: x
            stpes:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            unknown_top.yaml:2:1: error: unknown key 'stpes'; did you mean 'steps'? (known keys: name, description, local, budget, params, secrets, steps, extends)
            stpes:
            ^
            """#
        ),
        (
            "unterminated_expr",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with:
                  message: "hello ${{ params.x"
            """#,
            #"""
            unterminated_expr.yaml:6:23: error: unterminated expression: '${{' without a closing '}}'
                  message: "hello ${{ params.x"
                                  ^
            """#
        ),
        (
            "with_list",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with: [message, hi]
            """#,
            #"""
            with_list.yaml:5:11: error: step 'a': 'with' must be a map of inputs, found a list
                with: [message, hi]
                      ^
            """#
        ),
        (
            "wrong_type_bool",
            #"""
            name: x
            steps:
              - id: a
                uses: archive.tar
                with:
                  source: src
                  output: a.tar
                  include_top_folder: maybe
            """#,
            #"""
            wrong_type_bool.yaml:8:27: error: step 'a' (archive.tar): input 'include_top_folder' must be a bool, found a string ('maybe')
                  include_top_folder: maybe
                                      ^
            """#
        ),
        (
            "wrong_type_list",
            #"""
            name: x
            steps:
              - id: a
                uses: shell
                with:
                  command: [echo, hi]
            """#,
            #"""
            wrong_type_list.yaml:6:16: error: step 'a' (shell): input 'command' must be a string, found a list
                  command: [echo, hi]
                           ^
            """#
        ),
        (
            "wrong_type_map",
            #"""
            name: x
            steps:
              - id: a
                uses: shell
                with:
                  command: echo
                  env: [A, B]
            """#,
            #"""
            wrong_type_map.yaml:7:12: error: step 'a' (shell): input 'env' must be a map, found a list
                  env: [A, B]
                       ^
            """#
        ),
        (
            "yaml_dupkey",
            #"""
            name: x
            name: y
            steps: []
            """#,
            #"""
            yaml_dupkey.yaml:2:1: error: YAML syntax error: duplicate key 'name' (first defined at line 1)
            name: y
            ^
            """#
        ),
        (
            "extends_remote",
            #"""
            extends: https://example.com/recipes/base.yaml
            steps:
              - id: a
                uses: print
                with: {message: hi}
            """#,
            #"""
            extends_remote.yaml:1:10: error: 'extends': remote recipes need a fetcher, which this loader was not given ('https://example.com/recipes/base.yaml'); give a local path
            extends: https://example.com/recipes/base.yaml
                     ^
            """#
        ),
        (
            "step_after_unknown",
            #"""
            steps:
              - id: first
                uses: print
                with: {message: hi}
              - id: second
                after: frist
                uses: print
                with: {message: hi}
            """#,
            #"""
            step_after_unknown.yaml:6:12: error: step 'second': unknown step 'frist' in 'after'; did you mean 'first'? (steps so far: first)
                after: frist
                       ^
            """#
        ),
        (
            "step_remove_without_base",
            #"""
            steps:
              - id: a
                uses: print
                with: {message: hi}
              - id: b
                remove: true
            """#,
            #"""
            step_remove_without_base.yaml:6:5: error: step 'b': 'remove: true' drops a step of the base recipe, and this recipe has no 'extends'
                remove: true
                ^
            """#
        ),
        (
            "yaml_syntax",
            #"""
            name: x
            steps:
              - id: a
                uses: print
                with: {message: 'hi'
            """#,
            #"""
            yaml_syntax.yaml:5:25: error: YAML syntax error: while parsing a flow mapping: did not find expected ',' or '}' (the construct started at line 5, column 11)
                with: {message: 'hi'
                                    ^
            """#
        ),
        (
            "write_path_climbs_out",
            #"""
            name: x
            steps:
              - id: w
                uses: file.write
                with: {path: ../../.sous/trusted-commands, content: forged}
            """#,
            #"""
            write_path_climbs_out.yaml:5:18: error: step 'w' (file.write): input 'path': '../../.sous/trusted-commands' leaves the recipe's work folder (WORKSPACE/<recipe>/work): a step may only write inside it
                with: {path: ../../.sous/trusted-commands, content: forged}
                             ^
            """#
        ),
        (
            "write_path_absolute",
            #"""
            name: x
            steps:
              - id: pack
                uses: archive.tar
                with:
                  source: src
                  output: /tmp/model.tar.gz
            """#,
            #"""
            write_path_absolute.yaml:7:15: error: step 'pack' (archive.tar): input 'output': '/tmp/model.tar.gz' is an absolute path: a path a step writes is relative to the recipe's work folder (WORKSPACE/<recipe>/work) and stays inside it
                  output: /tmp/model.tar.gz
                          ^
            """#
        ),
        (
            "write_path_after_workspace",
            #"""
            name: x
            steps:
              - id: run
                uses: shell
                with:
                  command: make
                  generates: [out.bin, "${{ workspace }}/../state.json"]
            """#,
            #"""
            write_path_after_workspace.yaml:7:28: error: step 'run' (shell): input 'generates': '${{ workspace }}/../state.json' leaves the recipe's work folder (WORKSPACE/<recipe>/work): a step may only write inside it
                  generates: [out.bin, "${{ workspace }}/../state.json"]
                                       ^
            """#
        ),
        (
            "secret_in_command",
            #"""
            name: x
            secrets:
              hf_token: env:HF_TOKEN
            steps:
              - id: login
                uses: shell
                with:
                  command: huggingface-cli login --token ${{ secrets.hf_token }}
            """#,
            #"""
            secret_in_command.yaml:8:46: error: step 'login' (shell): ${{ secrets.hf_token }} cannot be used in a command line: it would show in the process list (ps); pass it through 'env:' (env: {HF_TOKEN: "${{ secrets.hf_token }}"}) and use "$HF_TOKEN" in the command
                  command: huggingface-cli login --token ${{ secrets.hf_token }}
                                                         ^
            """#
        ),
        (
            "command_arithmetic",
            #"""
            name: x
            params:
              n: 1
            steps:
              - id: count
                uses: shell
                with:
                  command: echo $(( ${{ params.n }} + 1 ))
            """#,
            #"""
            command_arithmetic.yaml:8:25: error: step 'count' (shell): ${{ params.n }} cannot be passed safely inside an arithmetic expression ($(( )) or (( ))), where bash evaluates a value's text as code; pass it through 'env:' and check that it is a number before computing with it
                  command: echo $(( ${{ params.n }} + 1 ))
                                    ^
            """#
        ),
        (
            "yaml_tab",
            #"""
            name: x
            steps:
            	- id: a
            """#,
            #"""
            yaml_tab.yaml:3:1: error: YAML syntax error: while scanning for the next token: found character that cannot start any token
            	- id: a
            ^
            """#
        ),
    ]

    @Test func corpusHasAtLeastFortyCases() {
        #expect(Self.cases.count >= 40)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count)
    }

    @Test(arguments: BrokenRecipeCorpusTests.cases.map(\.name))
    func brokenRecipeIsRejectedWithExactMessage(name: String) throws {
        let c = try #require(Self.cases.first { $0.name == name })
        let loader = RecipeLoader(kinds: BuiltinSteps.registry().schemas)
        do {
            let text = c.yaml.isEmpty ? "" : c.yaml + "\n"
            _ = try loader.parse(text: text, path: "\(name).yaml", defaultName: name)
            Issue.record("\(name): the recipe was accepted")
        } catch {
            #expect(error.description == c.expected)
        }
    }
}
