// notarize(subjects: ..., credentialsId: ..., ...): records build outputs in a Notarium ledger
// as trusted (or, with mode: 'untrust' / 'unsupport', as untrusted / unsupported), keeps the
// receipts as build artifacts, and fails the build unless every subject was recorded.
// The parameters are notarium(...)'s; see notarize.txt.
Map call(Map args = [:]) {
    String mode = args.mode ?: 'notarize'
    if (!(mode in ['notarize', 'untrust', 'unsupport'])) {
        error("notarize: mode must be notarize, untrust or unsupport, not '${mode}' (authenticate(...) checks)")
    }
    return notarium(args + [mode: mode])
}
