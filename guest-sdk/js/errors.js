/**
 * Errors a handler answers with.
 *
 * There are two kinds, and the difference matters to the client. A *problem* is an
 * answer the handler chose (404, 409, a 400 listing what is wrong with the input): it
 * reaches the client as an RFC 9457 document with its status, title and detail. Any other
 * thrown value is a *failure*, something that broke (the store, a bug): the client gets a
 * bare 500 and the operator the error's name, message and stack in the host log.
 *
 * @module
 */

/** One field-level problem: a JSON Pointer into the request data and what is wrong. */
export class Violation {
  /**
   * @param {string} pointer A JSON Pointer (`/title`), empty for the whole document.
   * @param {string} message What is wrong with the value, for a human.
   */
  constructor(pointer, message) {
    this.pointer = String(pointer);
    this.message = String(message);
  }
}

/**
 * An answer the handler chose to give instead of data: made by `rc.NOT_FOUND.detail(...)`
 * and by {@link Violations#check}, and thrown. It is an `Error` so that it can be thrown
 * from anywhere a handler calls, but it never reaches the log as a failure.
 */
export class Problem extends Error {
  /**
   * @param {number} status The HTTP status (4xx or 5xx).
   * @param {string} title The short summary, the same for every occurrence.
   * @param {string} [detail] What went wrong this time.
   * @param {Violation[]} [violations] Field-level problems.
   */
  constructor(status, title, detail, violations = []) {
    super(detail === undefined ? title : `${title}: ${detail}`);
    this.name = 'Problem';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.violations = violations;
  }

  /** Says what went wrong this time (the problem's `detail`). Returns this problem. */
  withDetail(detail) {
    this.detail = String(detail);
    this.message = `${this.title}: ${this.detail}`;
    return this;
  }

  /** Adds a field-level violation (`/title`, "must not be empty"). Returns this problem. */
  withViolation(pointer, message) {
    this.violations.push(new Violation(pointer, message));
    return this;
  }
}

/**
 * Field-level problems collected while checking a request, answered together as one 400
 * so the client can fix everything at once.
 *
 * ```js
 * const violations = new Violations();
 * if (!title.trim()) violations.add('/title', 'must not be empty');
 * violations.check('the post is not valid');   // throws a 400 listing each violation
 * ```
 */
export class Violations {
  constructor() {
    /** @type {Violation[]} */
    this.violations = [];
  }

  /** Records that the value at `pointer` (a JSON Pointer such as `/title`) is wrong. */
  add(pointer, message) {
    this.violations.push(new Violation(pointer, message));
  }

  /** Whether nothing was recorded. */
  isEmpty() {
    return this.violations.length === 0;
  }

  /** How many violations were recorded. */
  get length() {
    return this.violations.length;
  }

  /**
   * `null` when nothing was recorded, else a 400 problem with `detail` and every
   * violation (to return or throw).
   *
   * @param {string} detail What is wrong as a whole.
   * @returns {Problem | null}
   */
  toProblem(detail) {
    if (this.violations.length === 0) return null;
    return new Problem(400, 'Bad Request', String(detail), [...this.violations]);
  }

  /**
   * Throws a 400 problem with `detail` and every violation, when any were recorded.
   *
   * @param {string} detail What is wrong as a whole.
   */
  check(detail) {
    const problem = this.toProblem(detail);
    if (problem) throw problem;
  }
}

/**
 * The WIT `guest-error` for a failure: the error's name and message, and its stack, for
 * the host log (the client sees a bare 500).
 *
 * @param {unknown} error What was thrown.
 * @returns {{message: string, trace: string | undefined}}
 */
export function guestError(error) {
  if (error instanceof Error) {
    return { message: `${error.name}: ${error.message}`, trace: ownFrames(error.stack) };
  }
  let shown;
  try {
    shown = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    shown = String(error);
  }
  return { message: `uncaught ${error === null ? 'null' : typeof error}: ${shown}`, trace: undefined };
}

/**
 * The stack's frames in the plugin's and the SDK's modules: the frames below them are the
 * generated bindings', the same for every error.
 */
function ownFrames(stack) {
  if (typeof stack !== 'string' || stack === '') return undefined;
  const frames = stack.split('\n').filter((frame) => frame !== '' && !/\/initializer\.js:\d+:\d+$/.test(frame));
  return frames.length === 0 ? stack : frames.join('\n');
}

/**
 * Wraps a `guest-error` so that the generated bindings return it as the `err` of a WIT
 * result: they take the `payload` of what an export throws.
 */
export function guestFailure(error) {
  return { payload: guestError(error) };
}
