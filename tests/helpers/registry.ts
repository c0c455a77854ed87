// The optimizer classes the tests iterate: the TS registry (`optimizerClasses`, TF 2.4's classes
// at the package root), so that adding a class to the registry adds it to every such test.
import { optimizerClasses } from 'simdopt';
import type { BuiltinOptimizerClass } from 'simdopt';

/** The registry's Keras class names, in Keras' order. */
export const CLASS_NAMES: readonly string[] = optimizerClasses.map((c) => c.spec.className);

/** The registered class named `name` (Keras' class name). */
export function classNamed(name: string): BuiltinOptimizerClass {
  const cls = optimizerClasses.find((c) => c.spec.className === name);
  if (!cls) throw new Error(`${name} is not a registered optimizer class (${CLASS_NAMES.join(', ')})`);
  return cls;
}

/**
 * `[class name, case]` for every registered class, in the registry's order: the cases `cases`
 * lists for the class, or `fallback` for a class it does not list (so a new class is tested
 * with `fallback` until someone adds its own cases). A name in `cases` that is not a registered
 * class throws: a renamed or removed class must not silently drop its cases.
 */
export function everyClass<C>(cases: Readonly<Record<string, readonly C[]>>, fallback: readonly C[]): Array<[string, C]> {
  for (const name of Object.keys(cases)) classNamed(name);
  return CLASS_NAMES.flatMap((name) => (cases[name] ?? fallback).map((c): [string, C] => [name, c]));
}
