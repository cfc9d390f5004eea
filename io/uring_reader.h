#pragma once

// The io_uring implementation of io::Reader, and the choice between it and
// the pread reader.
//
// Every calling thread gets its own ring (created on the thread's first call,
// torn down when the thread exits or, lazily, after the reader is gone): no
// ring is ever touched by two threads, so pool tasks never share one. A ring
// owns `queue_depth` chunk buffers of `chunk_bytes`, registered with the
// kernel (IORING_OP_READ_FIXED) when it allows; a blob is read with up to
// `queue_depth` chunk reads in flight, submitted and reaped in batches, and
// the chunks are fed to the incremental SHA-256/512 in file order. Files are
// opened exactly as the pread reader opens them (io/open_beneath.h).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "io/error.h"
#include "io/reader.h"

namespace trustgate::io {

// BufferRegistration selects whether a ring's chunk buffers are registered
// with io_uring_register_buffers.
enum class BufferRegistration {
  // kAuto registers them and reads with READ_FIXED; when the kernel refuses
  // (RLIMIT_MEMLOCK on older kernels, ENOMEM), that ring reads into the same
  // buffers with plain READ instead.
  kAuto,
  // kOff never registers (tests exercise the plain-read path with it).
  kOff,
};

// UringFaultInjection makes a ring misbehave on purpose. Tests only: the
// default injects nothing.
struct UringFaultInjection {
  // Every `short_read_every`-th successful read completion (0: never) is
  // treated as if the kernel had returned half the bytes (at least one).
  uint32_t short_read_every = 0;
  // Every `eagain_every`-th read completion (0: never) is replaced by -EAGAIN.
  uint32_t eagain_every = 0;
  // The `fail_read_number`-th read completion on the ring (1-based, 0:
  // never) is replaced by -`fail_errno`.
  uint32_t fail_read_number = 0;
  int fail_errno = 0;
  // after_open runs after a file is opened and sized, before the first read
  // (a test truncates the file there).
  std::function<void()> after_open;
};

// UringOptions configures NewUringReader.
struct UringOptions {
  // queue_depth is how many chunk reads of one file are kept in flight, and
  // how many chunk buffers each ring owns (1..64).
  uint32_t queue_depth = 4;
  // chunk_bytes is the size of each read and of each chunk buffer (4 KiB to
  // 64 MiB). A thread's ring therefore holds queue_depth * chunk_bytes.
  size_t chunk_bytes = kHashChunkBytes;
  BufferRegistration registration = BufferRegistration::kAuto;
  // resolution is the open path, as for NewPreadReader.
  PathResolution resolution = PathResolution::kAuto;
  // simulate_setup_errno, when non-zero, makes the creation probe fail as if
  // io_uring_queue_init had returned -simulate_setup_errno (tests of the
  // fallback; EPERM is what a seccomp profile gives).
  int simulate_setup_errno = 0;
  UringFaultInjection faults;
};

// NewUringReader returns an io_uring reader after probing, on the calling
// thread, that a ring with these options can be set up (setup flags the
// kernel rejects with EINVAL are dropped and retried). Fails with kReadError
// and a detail naming the reason when io_uring is unavailable (ENOSYS: old
// kernel or built without liburing; EPERM: seccomp profile or
// kernel.io_uring_disabled; ENOMEM) or when the options are out of range.
// The reader is thread-safe; a thread that cannot get a ring later (e.g. a
// per-user ring limit) reads with pread instead.
base::Result<std::unique_ptr<Reader>, IoError> NewUringReader(
    const UringOptions& options = {});

// UringAvailability is what NewUringReader's probe found, without keeping
// a reader.
struct UringAvailability {
  bool available = false;
  // errno_value is the errno that made it unavailable (0 when available;
  // ENOSYS when built without liburing).
  int errno_value = 0;
  // reason is the short cause ("Operation not permitted", "built without
  // liburing"); detail is one line saying what blocked it and what to do.
  std::string reason;
  std::string detail;
};

// ProbeUring sets up (and tears down) one ring with `options` on the calling
// thread and reports whether that worked.
UringAvailability ProbeUring(const UringOptions& options = {});

// ReaderChoice selects the reader NewBestReader returns (`--io=`).
enum class ReaderChoice {
  kAuto,   // io_uring when it can be set up, else pread with a notice
  kUring,  // io_uring or an error
  kPread,  // pread
};

// ParseReaderChoice accepts "auto", "uring" (or "io_uring") and "pread".
std::optional<ReaderChoice> ParseReaderChoice(std::string_view text);
// ToString returns "auto", "uring" or "pread".
std::string_view ToString(ReaderChoice choice);

// NewBestReader returns the reader `choice` asks for. With kAuto it falls
// back to pread when io_uring is unavailable and sets `*notice` (when
// non-null) to one line such as "io_uring unavailable (Operation not
// permitted): reading with pread"; otherwise `*notice` is cleared. Fails
// only for kUring when io_uring is unavailable (kReadError).
base::Result<std::unique_ptr<Reader>, IoError> NewBestReader(
    ReaderChoice choice, std::string* notice);
// NewBestReader with explicit io_uring options (tests simulate an
// unavailable io_uring with options.simulate_setup_errno).
base::Result<std::unique_ptr<Reader>, IoError> NewBestReader(
    ReaderChoice choice, const UringOptions& options, std::string* notice);

// UringThreadStats counts what the calling thread's rings did (all uring
// readers, since the thread started). Tests use it to check that reads were
// batched and used registered buffers.
struct UringThreadStats {
  uint64_t rings_created = 0;
  uint64_t enter_calls = 0;       // submit and/or wait system calls
  uint64_t reads_submitted = 0;   // SQEs, requeues included
  uint64_t fixed_reads = 0;       // of which READ_FIXED
  uint64_t short_reads = 0;       // completions resubmitted for the rest
  uint64_t requeued = 0;          // -EAGAIN / -EINTR completions resubmitted
  uint64_t pread_fallbacks = 0;   // calls served by pread (no ring here)
  uint32_t last_setup_flags = 0;  // IORING_SETUP_* the last ring got
};

// ThisThreadUringStats returns the calling thread's counters.
UringThreadStats ThisThreadUringStats();

}  // namespace trustgate::io
