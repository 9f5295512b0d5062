//! glibc's mmap threshold, raised past asyncio's socket reads.
//!
//! glibc's malloc serves a block of 128 KiB or more with an mmap of its own, until a free
//! shows it that such blocks are common: freeing one raises the threshold to its size. An
//! asyncio transport reads each socket into a fresh 256 KiB `bytes` that it shrinks to what
//! arrived before it is freed, so that free never shows the size, and every read of the
//! loop's sockets (a database's, an HTTP client's, Redis's) was an mmap, an mremap and a
//! munmap, with its pages faulted in: TechEmpower's single query spent 110 µs of CPU a
//! request instead of ~75. Whether a process had raised the threshold depended on what
//! happened to be imported (a module's large `.pyc` read and freed does it).
//! `raise_past_socket_reads` frees one block past that size once, as glibc would have.

/// Larger than an asyncio read (256 KiB and the `bytes` header), with room.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const PAST_SOCKET_READS: usize = 512 * 1024;

/// Raises glibc's mmap threshold past asyncio's socket reads (once is enough; later calls
/// change nothing). Elsewhere, nothing to do.
pub fn raise_past_socket_reads() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: a block from malloc, freed once; black_box keeps the pair from being elided.
    unsafe {
        let block = std::hint::black_box(libc::malloc(PAST_SOCKET_READS));
        libc::free(block);
    }
}
