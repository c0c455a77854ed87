//! The allocator: the system one, except that blocks of [`ALIGNED_FROM`] bytes or more (tensor
//! values, slots, the frame) start on a cache line. With the default 8-byte alignment, a quarter
//! of a kernel's 16-byte vector loads and stores straddle two cache lines.

struct LineAligned;

const ALIGNED_FROM: usize = 256;
const LINE: usize = 64;

fn line_layout(l: std::alloc::Layout) -> std::alloc::Layout {
    if l.size() >= ALIGNED_FROM && l.align() < LINE {
        // Cannot fail: LINE is a power of two and the size is unchanged.
        l.align_to(LINE).unwrap_or(l)
    } else {
        l
    }
}

// SAFETY: every block is allocated and freed with the same adjusted layout (a function of the
// caller's layout), by the system allocator.
unsafe impl std::alloc::GlobalAlloc for LineAligned {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        std::alloc::System.alloc(line_layout(l))
    }
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        std::alloc::System.alloc_zeroed(line_layout(l))
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        std::alloc::System.dealloc(p, line_layout(l))
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let old = line_layout(l);
        let new = line_layout(std::alloc::Layout::from_size_align_unchecked(new_size, l.align()));
        if old.align() == new.align() {
            return std::alloc::System.realloc(p, old, new_size);
        }
        let q = std::alloc::System.alloc(new);
        if !q.is_null() {
            core::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
            std::alloc::System.dealloc(p, old);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: LineAligned = LineAligned;
