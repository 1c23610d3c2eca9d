/** Why a lab's lifeline could not start, as an error that says what to do (PrerequisiteError where a setting or package is missing). */
import { NetspecError, PrerequisiteError } from '../errors.js';

/** `ready`: false (it exited, or timed out), or the spawn error; `stderr`: what unshare said. */
export function startError(ready: boolean | Error, stderr: string, userns: boolean, root: boolean, timeoutMs: number): NetspecError {
  const err = stderr.trim();
  if (ready instanceof Error) return new PrerequisiteError('the `unshare` command', 'install util-linux (`apt-get install util-linux`)', { cause: ready });
  if (/No space left on device/.test(err) && userns) {
    return new PrerequisiteError(
      'user namespaces',
      `the limit on user namespaces is reached or set to 0 (user.max_user_namespaces). Raise it with \`sudo sysctl -w user.max_user_namespaces=15000\`, ${root ? 'or (trusted code only) create a full-privilege lab with { privileged: true }: labs run in a user namespace, as root too, to keep them off the machine' : 'or run the tests as root'}. unshare said: ${err}`,
    );
  }
  if (/Operation not permitted|Permission denied/.test(err)) {
    if (userns && root) {
      return new PrerequisiteError(
        'user namespaces',
        `the kernel refused to create one even to root (a restricted container, or an AppArmor/SELinux policy?); labs run in a user namespace, as root too, to keep them off the machine. Allow them (\`sudo sysctl -w user.max_user_namespaces=15000\`, on Ubuntu 24.04+ \`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`), or (trusted code only) create a full-privilege lab with { privileged: true }. unshare said: ${err}`,
      );
    }
    if (userns) {
      return new PrerequisiteError(
        'unprivileged user namespaces',
        `creating a lab as a non-root user needs them. Enable with \`sudo sysctl -w kernel.unprivileged_userns_clone=1\` (Debian/Ubuntu), \`sudo sysctl -w user.max_user_namespaces=15000\`, or on Ubuntu 24.04+ \`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`; or run the tests as root. unshare said: ${err}`,
      );
    }
    return new PrerequisiteError('network namespaces', `the kernel refused to create them${root ? ' even as root (is this a restricted container? run it with --privileged or CAP_SYS_ADMIN)' : ''}. unshare said: ${err}`);
  }
  if (/not found|No such file/.test(err)) {
    const tool = /(\w+): (?:command )?not found/.exec(err)?.[1] ?? 'a system tool';
    return new PrerequisiteError(`the \`${tool}\` command`, `install iproute2 and util-linux (\`apt-get install iproute2 util-linux\`). unshare said: ${err}`);
  }
  return new NetspecError(
    ready === false && !err
      ? `the lab did not come up within ${timeoutMs} ms: the kernel was too slow creating its namespaces (is it busy freeing many others?); retry, or raise { startTimeoutMs }`
      : `the lab could not be created: ${err || 'the lifeline exited early'}`,
  );
}
