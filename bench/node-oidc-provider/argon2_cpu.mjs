// CPU ms per argon2id verification with @node-rs/argon2 (the node side's S3 backend),
// m=19456 KiB t=2 p=1, the same parameters as GovID: compare with bench/argon2_backends.py.
import { Algorithm, hash, verify, verifySync } from '@node-rs/argon2';
const rounds = Number(process.argv[2] || 40);
const opts = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const stored = await hash('correct horse battery staple', opts);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (const mode of ['async', 'sync']) {
  await verify(stored, 'correct horse battery staple');
  const t = cpu();
  for (let i = 0; i < rounds; i++) {
    const ok = mode === 'async' ? await verify(stored, 'correct horse battery staple')
                                : verifySync(stored, 'correct horse battery staple');
    if (!ok) throw new Error('verify failed');
  }
  console.log(`@node-rs/argon2 ${mode}: ${((cpu() - t) / rounds).toFixed(2)} ms CPU per verification`);
}
