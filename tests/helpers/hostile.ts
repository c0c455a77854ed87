// The oracle of the hostile-input suites (hostile.test.ts, hostile-distribute.test.ts): each case
// ends in a typed refusal that changed nothing, or in exactly the plain call's result; cases are
// counted per category and the counts printed after the file.
import { SimdoptError } from 'simdopt';

/** Applied / refused counts per category. */
export type Outcomes = Map<string, { applied: number; refused: number }>;

export function describeError(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}(${(e as SimdoptError).code ?? ''}): ${e.message}` : `non-error ${String(e)}`;
}

/** The category's counts (made at its first case). */
export function tallyOf(outcomes: Outcomes, category: string): { applied: number; refused: number } {
  const tally = outcomes.get(category) ?? { applied: 0, refused: 0 };
  outcomes.set(category, tally);
  return tally;
}

/** An attack that threw must be a typed refusal (not a failed core) and leave the world as
 * `before` observed it; counted as refused. */
export function expectUnchangedRefusal(outcomes: Outcomes, category: string, error: unknown, before: string, after: string): void {
  if (!(error instanceof SimdoptError) || error.code === 'CoreFailed') throw new Error(`${category}: not a typed refusal: ${describeError(error)}`);
  if (after !== before) throw new Error(`${category}: changed after ${describeError(error)}\nbefore ${before}\nafter  ${after}`);
  tallyOf(outcomes, category).refused++;
}

/** The printed summary: total cases, then one line per category. */
export function outcomeReport(title: string, outcomes: Outcomes, appliedAs: string): string {
  const total = [...outcomes.values()].reduce((s, o) => s + o.applied + o.refused, 0);
  const rows = [...outcomes].map(([k, o]) => `  ${k}: ${o.applied} applied as ${appliedAs}, ${o.refused} refused unchanged`);
  return `${title}: ${total} cases\n${rows.join('\n')}`;
}
