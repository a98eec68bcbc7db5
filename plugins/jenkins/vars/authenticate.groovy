// authenticate(subjects: ..., ...): checks build outputs against a Notarium ledger, with
// proofs, and fails the build unless every subject is trusted: the verdict is the CLI's exit
// code (docs/cli.md). The parameters are notarium(...)'s; see authenticate.txt.
Map call(Map args = [:]) {
    if (args.mode && args.mode != 'authenticate') {
        error("authenticate: mode is always authenticate, not '${args.mode}' (notarize(...) records)")
    }
    return notarium(args + [mode: 'authenticate'])
}
