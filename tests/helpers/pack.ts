// The package as users get it: `npm pack` of the built repository, installed into a fresh
// project in a temp dir (offline: simdopt has no runtime dependencies).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBuilt, runOk, tempDir } from './process';

export const NPM_ENV = { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_loglevel: 'error' };

export interface Installed {
  /** The temp dir holding the tarball and the project; `remove()` deletes it. */
  work: { path: string; remove(): void };
  tarball: string;
  /** Paths inside the tarball, without the leading `package/`. */
  entries: string[];
  /** The project dir (`type: module`), with simdopt in node_modules. */
  project: string;
}

export async function packAndInstall(prefix: string): Promise<Installed> {
  requireBuilt();
  const work = tempDir(prefix);
  try {
    const packed = await runOk('npm', ['pack', '--json', '--pack-destination', work.path], { env: NPM_ENV });
    const info = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    const tarball = join(work.path, info[0].filename);
    // The file list as it is in the tarball itself, not as npm reports it.
    const listed = await runOk('tar', ['-tzf', tarball]);
    const entries = listed.stdout
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/^package\//, ''));
    const project = join(work.path, 'project');
    await runOk('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }, null, 2));
    await runOk('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: project, env: NPM_ENV });
    return { work, tarball, entries, project };
  } catch (e) {
    work.remove();
    throw e;
  }
}
