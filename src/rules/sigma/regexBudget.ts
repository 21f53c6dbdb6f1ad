/**
 * The time regular expressions that need backtracking (lookaround, backreferences) may take,
 * shared by every rule of a rule set. A value gets at most what is left of its rule's budget
 * for the record, and of the record's budget across rules; once either is spent, such
 * expressions answer "no match" at once for the rest of the rule or the record. One record of
 * thousands of hostile values therefore costs at most `perRecordMs`, not thousands of
 * per-value timeouts. Every rule whose budget ran out on a record is counted, by rule, so
 * summaries, metrics and warnings can name it.
 *
 * The engine calls `beginRecord` for each event; a rule holding such an expression calls
 * `beginRule` before evaluating it (rules without one never touch the budget).
 */
export class RegexBudget {
  /** Records on which a rule's budget ran out, by rule. */
  readonly exhausted = new Map<string, number>();
  /** Values run under the budget, and values not run because it was spent. */
  ran = 0;
  skipped = 0;
  private recordLeft: number;
  private ruleLeft: number;
  private rule = '';
  private ruleCounted = false;

  constructor(
    /** What one rule's expressions may take on one record, all values together, ms. */
    readonly perRuleMs = 25,
    /** What all rules' expressions may take on one record, ms. */
    readonly perRecordMs = 100,
  ) {
    this.recordLeft = perRecordMs;
    this.ruleLeft = perRuleMs;
  }

  beginRecord(): void {
    this.recordLeft = this.perRecordMs;
  }

  beginRule(rule: string): void {
    this.rule = rule;
    this.ruleLeft = this.perRuleMs;
    this.ruleCounted = false;
  }

  /** What the next value may take, ms (0: nothing left, do not run it). */
  allowanceMs(): number {
    return Math.max(0, Math.min(this.recordLeft, this.ruleLeft));
  }

  /** A value took `ms`; `ranOut` when it was stopped or not run for want of time. */
  spent(ms: number, ranOut: boolean): void {
    if (ms === 0 && ranOut) this.skipped++;
    else this.ran++;
    this.recordLeft -= ms;
    this.ruleLeft -= ms;
    if (ranOut && !this.ruleCounted) {
      this.ruleCounted = true;
      this.exhausted.set(this.rule, (this.exhausted.get(this.rule) ?? 0) + 1);
    }
  }
}
