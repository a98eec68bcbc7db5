// The common step behind notarize(...) and authenticate(...) (docs/plugins.md): maps named
// parameters to the environment of the `notarium` CLI, runs it through the library's shell
// script with the credential bound by withCredentials (an OpenID Connect id token credential,
// which wins, or an API key), archives the receipts, and turns the CLI's exit code into the
// verdict. No ledger logic lives here: notarium verifies every answer.
import groovy.transform.Field

@Field static final List<String> MODES = ['notarize', 'untrust', 'unsupport', 'authenticate']

@Field static final List<String> PARAMETERS = [
    'mode', 'subjects', 'server', 'ledger', 'credentialsId', 'idTokenCredentialsId', 'verifierKey',
    'signers', 'signerIssuer', 'signerRepository', 'signerWorkflow', 'signerRef', 'attributes',
    'onUnreachable', 'receiptsDir', 'stateDir', 'notariumVersion', 'notariumBaseUrl',
    'notariumSha256', 'propagate',
]

// The signer policy parameters (authenticate) and the variables run.sh reads them from.
@Field static final Map<String, String> POLICY = [
    signerIssuer: 'NOTARIUM_SIGNER_ISSUER', signerRepository: 'NOTARIUM_SIGNER_REPOSITORY',
    signerWorkflow: 'NOTARIUM_SIGNER_WORKFLOW', signerRef: 'NOTARIUM_SIGNER_REF',
]

// What a zero exit code means per mode; other codes are the CLI's (docs/cli.md).
@Field static final Map<String, String> RECORDED = [
    notarize: 'trusted', untrust: 'untrusted', unsupport: 'unsupported', authenticate: 'trusted',
]
@Field static final Map<Integer, String> VERDICTS = [
    1: 'untrusted', 2: 'unknown', 3: 'unsupported', 4: 'revoked', 5: 'verification_failed',
    6: 'server_unreachable', 7: 'unauthorized', 8: 'signer_mismatch',
]
@Field static final int UNREACHABLE = 6

/**
 * notarium(mode: 'notarize'|'untrust'|'unsupport'|'authenticate', subjects: ..., ...).
 * Returns [status: verdict word, exitCode: the CLI's exit code, results: path of its JSON].
 * See notarium.txt for the parameters.
 */
Map call(Map args = [:]) {
    List<String> unknown = []
    for (Object key : args.keySet()) {
        if (!(key in PARAMETERS)) {
            unknown << key.toString()
        }
    }
    if (unknown) {
        error("notarium: unknown parameter(s) ${unknown.join(', ')}; known: ${PARAMETERS.join(', ')}")
    }
    String mode = args.mode ?: 'notarize'
    if (!(mode in MODES)) {
        error("notarium: mode must be one of ${MODES.join(', ')}, not '${mode}'")
    }
    List<String> subjects = items(args.subjects)
    if (!subjects) {
        error("notarium ${mode}: subjects is required (files, directories or globs)")
    }
    String server = args.server ?: env.NOTARIUM_SERVER
    if (!server) {
        error("notarium ${mode}: server is required (or set NOTARIUM_SERVER in the environment)")
    }
    String onUnreachable = args.onUnreachable ?: 'fail'
    if (!(onUnreachable in ['fail', 'warn'])) {
        error("notarium ${mode}: onUnreachable must be fail or warn, not '${onUnreachable}'")
    }
    if (mode != 'authenticate' && !args.credentialsId && !args.idTokenCredentialsId) {
        error("notarium ${mode}: credentialsId is required: the id of a Secret text credential holding a write " +
            'API key (or idTokenCredentialsId: an OpenID Connect id token credential)')
    }
    for (String p : POLICY.keySet()) {
        if (args[p] && mode != 'authenticate') {
            error("notarium ${mode}: ${p} is for authenticate(...), which checks who built a subject")
        }
    }
    String receipts = args.receiptsDir ?: 'notarium-receipts'
    String results = "${receipts}/${mode}.json"
    List<String> variables = [
        "NOTARIUM_MODE=${mode}",
        "NOTARIUM_SUBJECTS=${subjects.join('\n')}",
        "NOTARIUM_SERVER=${server}",
        "NOTARIUM_LEDGER=${args.ledger ?: 'default'}",
        // A global NOTARIUM_VERIFIER_KEY (Manage Jenkins > System) pins the key when the call
        // names none; withEnv would otherwise replace it with nothing.
        "NOTARIUM_VERIFIER_KEY=${args.verifierKey ?: env.NOTARIUM_VERIFIER_KEY ?: ''}",
        "NOTARIUM_ATTRIBUTES=${attributeItems(args.attributes).join('\n')}",
        "NOTARIUM_SIGNERS=${items(args.signers).join('\n')}",
        "NOTARIUM_RECEIPTS_DIR=${receipts}",
        "NOTARIUM_RESULTS=${results}",
        // Empty: the release and checksums pinned in resources/io/notarium/run.sh.
        "NOTARIUM_DOWNLOAD_VERSION=${args.notariumVersion ?: ''}",
        "NOTARIUM_DOWNLOAD_BASE_URL=${args.notariumBaseUrl ?: env.NOTARIUM_BASE_URL ?: ''}",
        "NOTARIUM_DOWNLOAD_SHA256=${args.notariumSha256 ?: ''}",
    ]
    for (String p : POLICY.keySet()) {
        variables << "${POLICY[p]}=${args[p] ?: ''}".toString()
    }
    if (args.stateDir) {
        variables << "NOTARIUM_STATE_DIR=${args.stateDir}"
    }
    // The credentials, bound for the script only: the id token (which run.sh prefers) and the
    // API key. Neither is ever on a command line or in a variable list such as the one above.
    List<Object> credentials = []
    if (args.idTokenCredentialsId) {
        credentials << string(credentialsId: args.idTokenCredentialsId, variable: 'NOTARIUM_ID_TOKEN')
    }
    if (args.credentialsId) {
        credentials << string(credentialsId: args.credentialsId, variable: 'NOTARIUM_API_KEY')
    }
    String script = libraryResource('io/notarium/run.sh')
    int code = 0
    withEnv(variables) {
        if (credentials) {
            withCredentials(credentials) {
                code = sh(script: script, returnStatus: true, label: "notarium ${mode}")
            }
        } else {
            code = sh(script: script, returnStatus: true, label: "notarium ${mode}")
        }
    }
    archiveArtifacts(artifacts: "${receipts}/**", allowEmptyArchive: true)

    // No result means notarium never ran: the script could not get or check it.
    String status = fileExists(results) ? verdict(mode, code) : 'setup_failed'
    env.NOTARIUM_STATUS = status
    env.NOTARIUM_EXIT_CODE = code.toString()
    Map outcome = [status: status, exitCode: code, results: results]
    String summary = "notarium ${mode}: ${status} (exit ${code})"
    if (code == 0) {
        echo(summary)
    } else if (code == UNREACHABLE && onUnreachable == 'warn') {
        unstable("${summary}: the server is unreachable, and onUnreachable is warn")
    } else if (args.propagate == false) {
        echo("${summary}; propagate is false, so the build goes on")
    } else {
        error(summary)
    }
    return outcome
}

/** A list parameter: a List, or a String of items separated by newlines or commas. */
List<String> items(Object value) {
    if (value == null) {
        return []
    }
    List<Object> raw = value instanceof List ? value : value.toString().tokenize(',\n')
    List<String> out = []
    for (Object item : raw) {
        String s = item.toString().trim()
        if (s) {
            out << s
        }
    }
    return out
}

/** Attributes: a Map of key to value, or key=value items as for items(). */
List<String> attributeItems(Object value) {
    if (!(value instanceof Map)) {
        return items(value)
    }
    List<String> out = []
    for (Object key : value.keySet()) {
        out << "${key}=${value[key]}".toString()
    }
    return out
}

/** The verdict word of an exit code of `notarium <mode>`. */
String verdict(String mode, int code) {
    if (code == 0) {
        return RECORDED[mode]
    }
    return VERDICTS[code] ?: 'usage'
}
