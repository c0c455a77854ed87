//! Faults: what JavaScript learns when the core panics or aborts.
//!
//! A panic aborts (the release profile has `panic = "abort"`): the wasm instance traps with
//! `unreachable` and JavaScript sees a `WebAssembly.RuntimeError` without the message. The hook
//! below copies the message into a static buffer first, which the facade reads straight from
//! memory (no call into the failed instance) to say what went wrong.

use wasm_bindgen::prelude::*;

use super::STATE;

const PANIC_CAPACITY: usize = 4096;

/// `[length: u32 LE][UTF-8 bytes]` of the last panic message.
struct PanicBuffer(core::cell::UnsafeCell<[u8; 4 + PANIC_CAPACITY]>);

// SAFETY: written only by the panic hook, and a panic aborts the whole module (in the threads
// build too: the instance that panics traps, and the main thread gives up on the step).
unsafe impl Sync for PanicBuffer {}

static PANIC: PanicBuffer = PanicBuffer(core::cell::UnsafeCell::new([0; 4 + PANIC_CAPACITY]));

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| record_panic(info)));
}

/// Copies a panic message into [`PANIC`], truncated on a character boundary. Allocates nothing
/// (the panic may be an allocation failure).
fn record_panic(info: &dyn core::fmt::Display) {
    use core::fmt::Write;
    struct Writer<'a> {
        buf: &'a mut [u8],
        len: usize,
    }
    impl Write for Writer<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for c in s.chars() {
                let n = c.len_utf8();
                if self.len + n > self.buf.len() {
                    break;
                }
                c.encode_utf8(&mut self.buf[self.len..]);
                self.len += n;
            }
            Ok(())
        }
    }
    // SAFETY: single-threaded; nothing else borrows the buffer (JavaScript reads it only after
    // the instance has trapped).
    let all = unsafe { &mut *PANIC.0.get() };
    let (head, body) = all.split_at_mut(4);
    let mut w = Writer { buf: body, len: 0 };
    let _ = write!(w, "{info}");
    head.copy_from_slice(&(w.len as u32).to_le_bytes());
}

/// Byte offset of the panic buffer (`[length: u32][UTF-8]`), read by the facade after a trap.
#[wasm_bindgen]
pub fn panic_buffer() -> u32 {
    PANIC.0.get() as u32
}

/// Test hook: panics with `message` (while the state is borrowed if `inside_state`), as a bug in
/// the core would. Not part of the TypeScript API.
#[wasm_bindgen]
#[doc(hidden)]
pub fn __test_panic(message: &str, inside_state: bool) {
    if inside_state {
        STATE.with(|s| {
            let _held = s.borrow_mut();
            panic!("{message}");
        })
    }
    panic!("{message}");
}

/// Test hook: traps without a panic message (as an allocation failure or `abort` does).
#[wasm_bindgen]
#[doc(hidden)]
pub fn __test_abort() {
    std::process::abort();
}
