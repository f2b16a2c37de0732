// Replays the PyTorch run of scripts/fixtures/make_optim_fixture.py: AdamW with decay only for the
// matrix, clip_grad_norm_(1.0) before each step and a linear warm-up/decay LambdaLR schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, clipByGlobalNorm, defaultDecayRule, linearWarmupDecay } from '../../src/train/optim/index.js';
import { assertClose, fixture, gradsOf, initialParams } from './helpers.js';

const s = fixture.settings;

test('the fixture exercises what it should', () => {
  // the first step runs at lr 0, some steps are clipped and some are not
  assert.equal(fixture.steps[0]!.lr, 0);
  assert.ok(fixture.steps.some((st) => st.norm > s.max_norm) && fixture.steps.some((st) => st.norm < s.max_norm));
  // the default decay rule picks the same parameter as the reference's parameter groups
  assert.deepEqual(fixture.names.filter(defaultDecayRule), s.decayed);
});

test('AdamW + clipping + schedule match torch.optim.AdamW step by step (1e-6 relative)', () => {
  const params = initialParams();
  const opt = new AdamW(params, { lr: s.peak_lr, betas: s.betas, eps: s.eps, weightDecay: s.weight_decay });
  const lrAt = linearWarmupDecay({ peakLr: s.peak_lr, totalSteps: s.total_steps, warmupSteps: s.warmup_steps });
  assert.deepEqual(opt.decays, [false, false, true]);
  fixture.steps.forEach((want, k) => {
    const grads = gradsOf(k);
    const { norm, scale } = clipByGlobalNorm(grads, s.max_norm);
    assertClose([norm], [want.norm], 1e-6, `step ${k} norm`);
    assert.equal(scale < 1, want.norm > s.max_norm, `step ${k}: clipped exactly when the norm exceeds max_norm`);
    fixture.names.forEach((n, i) => assertClose(grads[i]!, want.clipped_grads[n]!, 1e-6, `step ${k} clipped grad ${n}`));

    const lr = lrAt(opt.stepCount);
    assertClose([lr], [want.lr], 1e-15, `step ${k} lr`);
    opt.step(grads, lr);
    assert.equal(opt.stepCount, k + 1);
    params.forEach((p) => assertClose(p.data, want.params[p.name]!, 1e-6, `step ${k} ${p.name}`));
  });
});

test('a step at lr 0 moves nothing but still advances the moments', () => {
  const params = initialParams();
  const opt = new AdamW(params, { lr: 0 });
  opt.step(gradsOf(0));
  params.forEach((p) => assert.deepEqual(p.data, Float32Array.from(fixture.initial[p.name]!)));
  assert.ok(opt.state().m.get(fixture.names[0]!)!.some((x) => x !== 0));
});
