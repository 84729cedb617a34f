/**
 * Turns whatever a command threw into a reason code and a one-line message for the user.
 * @module
 */
import { TransferError } from "../peer/transfer_error.ts";

/** A failure reduced to a reason code (see `exitCodeFor`) and a one-line message. */
export interface Failure {
  /** `TransferError` code, or a CLI reason: "disk", "missing_file", "failure". */
  code: string;
  /** One line, no trailing period. */
  message: string;
}

/** Shortens a message to its first line, without a trailing period. */
export function oneLine(message: string): string {
  return (message.split("\n")[0] ?? "").trim().replace(/\.$/, "");
}

/**
 * Puts what we tried in front of a reason, unless the reason already says what failed
 * (messages in this project start with "Cannot …").
 *
 * @param action e.g. `Cannot get "a.bin"`
 * @param reason the underlying one-line message
 * @returns `action: reason`, or `reason` alone when it starts with "Cannot "
 */
export function withAction(action: string, reason: string): string {
  return /^Cannot /.test(reason) ? reason : `${action}: ${reason}`;
}

/**
 * Classifies an error. `TransferError`s (and anything else with a string `code` and a
 * non-Deno class) keep their code; Deno file-system errors become `disk`; the rest `failure`.
 *
 * @param e The caught value.
 * @returns The reason code and a one-line message.
 */
export function classifyError(e: unknown): Failure {
  if (e instanceof TransferError) {
    // The library names its option; on the command line it is a flag.
    const message = oneLine(e.message).replace(/\bpass overwrite\b/, "use --overwrite");
    return { code: e.code, message };
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return { code: "disk", message: oneLine(e.message) };
  }
  if (
    e instanceof Deno.errors.NotFound || e instanceof Deno.errors.AlreadyExists ||
    e instanceof Deno.errors.IsADirectory || e instanceof Deno.errors.NotADirectory ||
    e instanceof Deno.errors.WriteZero || e instanceof Deno.errors.UnexpectedEof ||
    e instanceof Deno.errors.FilesystemLoop
  ) {
    return { code: "disk", message: oneLine(e.message) };
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[a-z_]+$/.test(code)) {
      return { code, message: oneLine(e.message) };
    }
    if (/ENOSPC|EACCES|EROFS|EIO|EDQUOT|No space left/i.test(e.message)) {
      return { code: "disk", message: oneLine(e.message) };
    }
    return { code: "failure", message: oneLine(e.message) || e.name };
  }
  return { code: "failure", message: oneLine(String(e)) };
}
