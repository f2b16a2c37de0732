/** Gradient rules of element-wise ops. y: output, g: incoming gradient. */
import type { Value } from '../../graph.js';
import { add, div, erf, exp, greater, log, mul, neg, pow, sign, sub, tanh, where } from '../../ops/elementwise.js';
import { cast } from '../../ops/shape.js';
import { isFloat } from '../../tensor.js';
import { buildVariants } from '../../variants.js';
import { attrStr, defineGradient, markNonDifferentiable } from '../registry.js';

const v = (x: Value | undefined) => x as Value;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const LN_INV_SQRT_2PI = Math.log(INV_SQRT_2PI);

defineGradient('Add', ({ dy }) => [dy[0], dy[0]]);
defineGradient('Sub', ({ dy, needs }) => [dy[0], needs[1] ? neg(v(dy[0])) : undefined]);
defineGradient('Mul', ({ x, dy, needs }) => [needs[0] ? mul(v(dy[0]), v(x[1])) : undefined, needs[1] ? mul(v(dy[0]), v(x[0])) : undefined]);
// y = a / b: da = g / b, db = -g * y / b
defineGradient('Div', ({ x, y, dy, needs }) => [
  needs[0] ? div(v(dy[0]), v(x[1])) : undefined,
  needs[1] ? neg(div(mul(v(dy[0]), v(y[0])), v(x[1]))) : undefined,
]);
// y = a ** b: da = g * b * a^(b-1), db = g * y * ln a
defineGradient('Pow', ({ x, y, dy, needs }) => [
  needs[0] ? mul(v(dy[0]), mul(v(x[1]), pow(v(x[0]), sub(v(x[1]), 1)))) : undefined,
  needs[1] ? mul(v(dy[0]), mul(v(y[0]), log(v(x[0])))) : undefined,
]);
defineGradient('Neg', ({ dy }) => [neg(v(dy[0]))]);
defineGradient('Identity', ({ dy }) => [dy[0]]);
defineGradient('Abs', ({ x, dy }) => [mul(v(dy[0]), sign(v(x[0])))]);
defineGradient('Sign', () => [undefined]); // zero almost everywhere
defineGradient('Sqrt', ({ y, dy }) => [div(mul(v(dy[0]), 0.5), v(y[0]))]);
defineGradient('Exp', ({ y, dy }) => [mul(v(dy[0]), v(y[0]))]);
defineGradient('Log', ({ x, dy }) => [div(v(dy[0]), v(x[0]))]);
// d erf(x) = 2/sqrt(pi) * exp(-x^2)
defineGradient('Erf', ({ x, dy }) => [mul(v(dy[0]), mul(exp(neg(mul(v(x[0]), v(x[0])))), 2 / Math.sqrt(Math.PI)))]);
defineGradient('Tanh', ({ y, dy }) => [mul(v(dy[0]), sub(1, mul(v(y[0]), v(y[0]))))]);
defineGradient('Sigmoid', ({ y, dy }) => [mul(v(dy[0]), mul(v(y[0]), sub(1, v(y[0]))))]);
defineGradient('Relu', ({ x, dy }) => [where(greater(v(x[0]), 0), v(dy[0]), 0)]);
defineGradient('Gelu', ({ node, x, dy }) => {
  const X = v(x[0]);
  const G = v(dy[0]);
  if (attrStr(node, 'approximate', 'none') === 'tanh') {
    // y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
    const x2 = mul(X, X);
    const t = tanh(mul(add(X, mul(mul(x2, X), 0.044715)), SQRT_2_OVER_PI));
    const du = mul(add(mul(x2, 3 * 0.044715), 1), SQRT_2_OVER_PI);
    const d = add(mul(add(t, 1), 0.5), mul(mul(mul(X, 0.5), sub(1, mul(t, t))), du));
    return [mul(G, d)];
  }
  // dy/dx = Phi(x) + x phi(x)
  if (!buildVariants().leanGradients) {
    const cdf = mul(add(erf(mul(X, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(X, X), -0.5)), INV_SQRT_2PI);
    return [mul(G, add(cdf, mul(X, pdf)))];
  }
  // The same with u = x / sqrt(2) shared by erf and the density, and phi's constant folded into the
  // exponent: x phi(x) = x exp(ln(1/sqrt(2 pi)) - u^2). 10 passes instead of 11.
  const u = mul(X, Math.SQRT1_2);
  const cdf = mul(add(erf(u), 1), 0.5);
  const xpdf = mul(X, exp(sub(LN_INV_SQRT_2PI, mul(u, u))));
  return [mul(G, add(cdf, xpdf))];
});
defineGradient('Where', ({ x, dy, needs }) => [
  undefined,
  needs[1] ? where(v(x[0]), v(dy[0]), 0) : undefined,
  needs[2] ? where(v(x[0]), 0, v(dy[0])) : undefined,
]);
defineGradient('Cast', ({ x, dy }) => [isFloat(v(x[0]).dtype) ? cast(v(dy[0]), v(x[0]).dtype) : undefined]);

markNonDifferentiable('comparison and logic ops produce bool outputs', 'Greater', 'Less', 'Equal', 'Not', 'And', 'Or');
