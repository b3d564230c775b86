/**
 * Environment variable names `coffer run` will not take from a bulk source
 * (`--param-path`, `--secret-json`), because whoever can write a parameter
 * under the path or a key of the secret would then choose more than a value:
 * they could make the command, its dynamic loader, its interpreter or its
 * shell run code of their choosing. With a bulk source the data's writer
 * picks the names; with `--secret NAME=…`/`--param NAME=…` the person running
 * the command does, so those are trusted (as ECS `secrets[].name` and
 * Kubernetes `env[].valueFrom` are, while Kubernetes' bulk `envFrom` is the
 * case this guards). `--allow-env NAME` lets one name through.
 *
 * The list is a floor, not a sandbox: a program can read any variable in
 * dangerous ways of its own. Names are compared case-insensitively (Windows
 * treats `Path` as `PATH`; nothing legitimate needs `ld_preload`).
 */

/** Exact names, each with the reason it is refused (shown in the error and in docs/clients.md). */
export const DANGEROUS_NAMES: Readonly<Record<string, string>> = {
  // Where programs and modules are found: a value pointing elsewhere runs other code.
  PATH: "chooses which executables run",
  NODE_PATH: "adds directories Node.js loads modules from",
  PYTHONPATH: "adds directories Python imports modules from",
  PYTHONHOME: "moves Python's standard library",
  PYTHONUSERBASE: "moves Python's user site-packages",
  PYTHONSTARTUP: "a file Python runs at interactive start",
  PERL5LIB: "adds directories Perl loads modules from",
  PERLLIB: "adds directories Perl loads modules from",
  RUBYLIB: "adds directories Ruby loads libraries from",
  CLASSPATH: "adds where the JVM loads classes from",
  GCONV_PATH: "makes glibc load a shared object for charset conversion",
  // Interpreter options that load or run code.
  NODE_OPTIONS: "Node.js options (--require, --import, --inspect) that run code",
  PYTHONBREAKPOINT: "imports and calls a module named by the value",
  PYTHONWARNINGS: "can make Python import a module named by the value",
  PYTHONINSPECT: "drops Python into an interactive prompt",
  PERL5OPT: "Perl command-line options (-M loads a module)",
  PERL5DB: "code Perl's debugger runs",
  RUBYOPT: "Ruby command-line options (-r loads a library)",
  JAVA_TOOL_OPTIONS: "JVM options (-javaagent loads code)",
  _JAVA_OPTIONS: "JVM options (-javaagent loads code)",
  JDK_JAVA_OPTIONS: "JVM options (-javaagent loads code)",
  // Shells: files they source, and settings that turn a variable into a command.
  BASH_ENV: "a file non-interactive bash sources at start",
  ENV: "a file sh/dash source at start",
  IFS: "changes how the shell splits words",
  PS4: "expanded (with command substitution) before each traced command",
  SHELLOPTS: "turns on shell options (xtrace, …) at start",
  BASHOPTS: "turns on shell options at start",
  PROMPT_COMMAND: "a command bash runs before each prompt",
  // Files and commands other tools read from the environment.
  HOME: "moves the config files (~/.npmrc, ~/.gitconfig, ~/.bashrc, …) that name commands to run",
  XDG_CONFIG_HOME: "moves the config files that name commands to run",
  OPENSSL_CONF: "an OpenSSL config file, which can load engines (shared objects)",
  OPENSSL_ENGINES: "where OpenSSL loads engines from",
  EDITOR: "a command programs run",
  VISUAL: "a command programs run",
  PAGER: "a command programs run",
  GIT_SSH: "a command git runs",
  GIT_SSH_COMMAND: "a command git runs",
  GIT_ASKPASS: "a command git runs",
  GIT_EXEC_PATH: "where git finds its sub-commands",
  GIT_CONFIG: "a git config file, which can name commands to run",
  GIT_CONFIG_GLOBAL: "a git config file, which can name commands to run",
  GIT_CONFIG_SYSTEM: "a git config file, which can name commands to run",
  SSH_ASKPASS: "a command ssh runs",
  SUDO_ASKPASS: "a command sudo runs",
  AWS_CONFIG_FILE: "an AWS config file, whose credential_process is a command the SDK runs",
  AWS_SHARED_CREDENTIALS_FILE: "an AWS credentials file, whose credential_process is a command the SDK runs",
};

/** Families refused by prefix. */
export const DANGEROUS_PREFIXES: Readonly<Record<string, string>> = {
  LD_: "the dynamic loader's settings (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT load shared objects)",
  DYLD_: "macOS's dynamic loader settings (DYLD_INSERT_LIBRARIES loads shared objects)",
  BASH_FUNC_: "bash functions exported through the environment",
  GIT_CONFIG_: "git configuration given in the environment (GIT_CONFIG_KEY_n), which can name commands",
};

/** Why `name` is refused from a bulk source, or undefined if it is not. */
export function dangerReason(name: string): string | undefined {
  const upper = name.toUpperCase();
  if (Object.hasOwn(DANGEROUS_NAMES, upper)) return DANGEROUS_NAMES[upper];
  for (const [prefix, reason] of Object.entries(DANGEROUS_PREFIXES)) {
    if (upper.startsWith(prefix)) return reason;
  }
  return undefined;
}

/** A variable a bulk source would set, and where it came from (a parameter name, or a secret and its key). */
export interface BulkVariable {
  variable: string;
  origin: string;
}

/**
 * Refuses, in one error listing all of them, the variables a bulk source
 * would set that are dangerous and not allowed by name. Never mentions a value.
 */
export function checkBulkNames(variables: BulkVariable[], allowed: Iterable<string>): void {
  const allow = new Set([...allowed].map((n) => n.toUpperCase()));
  const refused = variables
    .map(({ variable, origin }) => ({ variable, origin, reason: dangerReason(variable) }))
    .filter((v) => v.reason !== undefined && !allow.has(v.variable.toUpperCase()));
  if (refused.length === 0) return;
  const lines = refused.map((v) => `${v.variable} (from ${v.origin}): ${v.reason}`).sort();
  throw new Error(
    `not starting the command; these variables would come from a parameter path or a secret's JSON keys, ` +
      `and can make the command run other code:\n  ${lines.join("\n  ")}\n` +
      `Allow one by name with --allow-env NAME if whoever writes that data may choose it, or set it with --secret/--param.`,
  );
}
