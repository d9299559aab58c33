import { useEffect, useRef, type KeyboardEvent, type RefObject } from 'react';

/** What Tab can reach inside `root`, in order. */
export function focusables(root: HTMLElement | null): HTMLElement[] {
  if (!root) return [];
  return Array.from(
    root.querySelectorAll<HTMLElement>(
      'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])',
    ),
  );
}

/**
 * The keyboard of a modal dialog: focus moves into it and back to where it was afterwards;
 * Escape closes it (not while `busy`); focus that leaves it (e.g. a click on the backdrop while
 * work runs) comes back; Tab and Shift+Tab cycle inside it. Returns the dialog's onKeyDown.
 */
export function useDialogKeyboard(
  dialogRef: RefObject<HTMLElement | null>,
  busy: boolean,
  onClose: () => void,
): (e: KeyboardEvent) => void {
  useEffect(() => {
    const previouslyFocused = document.activeElement as HTMLElement | null;
    focusables(dialogRef.current)[0]?.focus();
    return () => previouslyFocused?.focus?.();
  }, [dialogRef]);
  const canClose = useRef(true);
  canClose.current = !busy;
  useEffect(() => {
    function onDocKey(e: globalThis.KeyboardEvent) {
      if (e.key === 'Escape' && canClose.current) {
        e.preventDefault();
        onClose();
      }
    }
    function onFocusIn(e: FocusEvent) {
      const d = dialogRef.current;
      if (d && e.target instanceof Node && !d.contains(e.target)) focusables(d)[0]?.focus();
    }
    document.addEventListener('keydown', onDocKey);
    document.addEventListener('focusin', onFocusIn);
    return () => {
      document.removeEventListener('keydown', onDocKey);
      document.removeEventListener('focusin', onFocusIn);
    };
  }, [dialogRef, onClose]);

  return function onKeyDown(e: KeyboardEvent) {
    const d = dialogRef.current;
    if (e.key !== 'Tab' || !d) return;
    const list = focusables(d);
    const first = list[0];
    const last = list[list.length - 1];
    if (!first || !last) return;
    if (e.shiftKey && (document.activeElement === first || !d.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
}
