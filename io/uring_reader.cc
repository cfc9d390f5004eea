#include "io/uring_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "io/digest.h"
#include "io/open_beneath.h"

#if TRUSTGATE_HAVE_LIBURING
#include <liburing.h>
#endif

namespace trustgate::io {
namespace {

thread_local UringThreadStats t_stats;

[[maybe_unused]] std::string ErrnoText(int err) { return std::strerror(err); }

// UnavailableDetail explains why io_uring could not be set up and what to
// do about it.
std::string UnavailableDetail(int err) {
  switch (err) {
    case ENOSYS:
      return "the kernel has no io_uring (older than 5.1, or built without "
             "it)";
    case EPERM:
    case EACCES:
      return "io_uring_setup is not permitted (a seccomp profile such as "
             "Docker's default, or sysctl kernel.io_uring_disabled)";
    case ENOMEM:
      return "the kernel could not allocate the ring (raise `ulimit -l` on "
             "kernels before 5.12)";
    case EINVAL:
      return "the kernel rejected every ring setup it was offered";
    case EMFILE:
    case ENFILE:
      return "no file descriptor left for the ring";
    default:
      return "io_uring_queue_init failed";
  }
}

UringAvailability Unavailable(int err, std::string reason) {
  UringAvailability a;
  a.available = false;
  a.errno_value = err;
  a.detail = "io_uring unavailable (" + reason + "): " + UnavailableDetail(err);
  a.reason = std::move(reason);
  return a;
}

}  // namespace

#if TRUSTGATE_HAVE_LIBURING

namespace {

constexpr uint32_t kMaxQueueDepth = 64;
constexpr size_t kMinChunkBytes = 4096;
constexpr size_t kMaxChunkBytes = size_t{64} << 20;
constexpr size_t kMaxRingBufferBytes = size_t{256} << 20;
// A read answered -EAGAIN/-EINTR this many times in a row is an error rather
// than a hang.
constexpr uint32_t kMaxRequeuesPerRead = 10000;
// Submissions that make no progress (-EAGAIN/-EBUSY with nothing to reap)
// are retried this many times before the ring is given up.
constexpr int kMaxIdleSubmitAttempts = 1000;

// Optional setup flags, in the order they are dropped when the kernel
// rejects the set with EINVAL (fio engines/io_uring.c drops unsupported
// flags the same way): DEFER_TASKRUN (6.1) needs SINGLE_ISSUER (6.0);
// COOP_TASKRUN is 5.19. Each ring is used by the one thread that created
// it, which is what SINGLE_ISSUER and DEFER_TASKRUN require.
constexpr uint32_t kOptionalSetupFlags[] = {
#ifdef IORING_SETUP_DEFER_TASKRUN
    IORING_SETUP_DEFER_TASKRUN,
#endif
#ifdef IORING_SETUP_SINGLE_ISSUER
    IORING_SETUP_SINGLE_ISSUER,
#endif
#ifdef IORING_SETUP_COOP_TASKRUN
    IORING_SETUP_COOP_TASKRUN,
#endif
};

base::Status<IoError> ValidateOptions(const UringOptions& o) {
  if (o.queue_depth == 0 || o.queue_depth > kMaxQueueDepth) {
    return base::MakeError(IoError::kReadError,
                           "invalid io_uring options: queue depth " +
                               std::to_string(o.queue_depth) +
                               " is outside 1.." +
                               std::to_string(kMaxQueueDepth));
  }
  if (o.chunk_bytes < kMinChunkBytes || o.chunk_bytes > kMaxChunkBytes) {
    return base::MakeError(IoError::kReadError,
                           "invalid io_uring options: chunk size " +
                               std::to_string(o.chunk_bytes) +
                               " is outside 4 KiB..64 MiB");
  }
  if (o.chunk_bytes * o.queue_depth > kMaxRingBufferBytes) {
    return base::MakeError(IoError::kReadError,
                           "invalid io_uring options: queue depth times chunk "
                           "size is above 256 MiB per thread");
  }
  return base::Ok{};
}

// Ring is one io_uring instance with its chunk buffers. It is created,
// used and destroyed by a single thread.
class Ring {
 public:
  // Create sets up a ring for `options` (already validated). Fails with the
  // errno of the failure.
  static base::Result<std::unique_ptr<Ring>, int> Create(
      const UringOptions& options);

  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring* get() { return &ring_; }
  uint32_t depth() const { return depth_; }
  size_t chunk_bytes() const { return chunk_bytes_; }
  uint8_t* slot(uint32_t i) { return buffers_ + size_t{i} * chunk_bytes_; }
  bool fixed() const { return fixed_; }
  bool has_read_op() const { return has_read_op_; }

  // Break marks the ring unusable: it is destroyed after the current call.
  // With reads still in flight, the kernel may write into the chunk buffers
  // and `hostage` after io_uring_queue_exit returns, so that memory is never
  // freed (this only happens if io_uring_enter itself fails, which it should
  // not).
  void Break(uint32_t in_flight, Buffer* hostage) {
    broken_ = true;
    if (in_flight > 0) {
      leak_on_exit_ = true;
      if (hostage != nullptr) {
        hostages_.push_back(std::move(*hostage));
      }
    }
  }
  bool broken() const { return broken_; }

  // Inject applies the test fault injection to a completion result.
  int Inject(int res) {
    ++completions_;
    if (faults_.fail_read_number != 0 &&
        completions_ == faults_.fail_read_number) {
      return -faults_.fail_errno;
    }
    if (faults_.eagain_every != 0 && completions_ % faults_.eagain_every == 0) {
      return -EAGAIN;
    }
    if (faults_.short_read_every != 0 && res > 1 &&
        completions_ % faults_.short_read_every == 0) {
      return res / 2;
    }
    return res;
  }

 private:
  Ring() = default;

  io_uring ring_{};
  bool ring_ready_ = false;
  uint32_t depth_ = 0;
  size_t chunk_bytes_ = 0;
  uint8_t* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  bool fixed_ = false;
  bool has_read_op_ = false;
  bool broken_ = false;
  bool leak_on_exit_ = false;
  std::vector<Buffer> hostages_;
  UringFaultInjection faults_;
  uint64_t completions_ = 0;
};

base::Result<std::unique_ptr<Ring>, int> Ring::Create(
    const UringOptions& options) {
  std::unique_ptr<Ring> ring(new Ring());
  ring->depth_ = options.queue_depth;
  ring->chunk_bytes_ = options.chunk_bytes;
  ring->faults_ = options.faults;

  uint32_t flags = 0;
  for (const uint32_t f : kOptionalSetupFlags) {
    flags |= f;
  }
  int ret = 0;
  while (true) {
    io_uring_params params{};
    params.flags = flags;
    ret = options.simulate_setup_errno != 0
              ? -options.simulate_setup_errno
              : io_uring_queue_init_params(options.queue_depth, &ring->ring_,
                                           &params);
    if (ret != -EINVAL || flags == 0) {
      break;
    }
    // Drop the newest optional flag still set and retry.
    for (const uint32_t f : kOptionalSetupFlags) {
      if ((flags & f) != 0) {
        flags &= ~f;
        break;
      }
    }
  }
  if (ret < 0) {
    return base::MakeError(-ret, "io_uring_queue_init: " + ErrnoText(-ret));
  }
  ring->ring_ready_ = true;
  ++t_stats.rings_created;
  t_stats.last_setup_flags = flags;

  // Opcode probe (5.6+). Without it the kernel is 5.1..5.5: READ_FIXED and
  // READV exist, READ does not.
  bool read_fixed_ok = true;
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring->ring_)) {
    read_fixed_ok = io_uring_opcode_supported(probe, IORING_OP_READ_FIXED);
    ring->has_read_op_ = io_uring_opcode_supported(probe, IORING_OP_READ);
    io_uring_free_probe(probe);
  }

  ring->buffers_bytes_ = options.chunk_bytes * options.queue_depth;
  void* mem = ::mmap(nullptr, ring->buffers_bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    const int err = errno;
    return base::MakeError(err, "cannot map chunk buffers: " + ErrnoText(err));
  }
  ring->buffers_ = static_cast<uint8_t*>(mem);

  if (options.registration == BufferRegistration::kAuto && read_fixed_ok) {
    std::array<iovec, kMaxQueueDepth> iovecs{};
    for (uint32_t i = 0; i < ring->depth_; ++i) {
      iovecs[i].iov_base = ring->slot(i);
      iovecs[i].iov_len = ring->chunk_bytes_;
    }
    // Refused registration (RLIMIT_MEMLOCK before 5.12, ENOMEM) only costs
    // the fixed-buffer fast path: the ring reads into the same buffers with
    // plain reads.
    ring->fixed_ = io_uring_register_buffers(&ring->ring_, iovecs.data(),
                                             ring->depth_) == 0;
  }
  return ring;
}

Ring::~Ring() {
  if (ring_ready_) {
    io_uring_queue_exit(&ring_);  // also unregisters the buffers
  }
  if (leak_on_exit_) {
    // See Break(): the kernel may still write here.
    for (Buffer& b : hostages_) {
      new Buffer(std::move(b));  // NOLINT: deliberately leaked
    }
    return;
  }
  if (buffers_ != nullptr) {
    ::munmap(buffers_, buffers_bytes_);
  }
}

// ReaderState is shared by a UringReader and the per-thread ring caches
// (which hold it weakly, to notice when the reader is gone).
struct ReaderState {
  UringOptions options;
  std::unique_ptr<Reader> pread;  // for threads that cannot get a ring
};

// ThreadRings is one thread's rings, one per live uring reader it used.
class ThreadRings {
 public:
  // Find returns this thread's ring for `state`, creating it on first use,
  // or nullptr when this thread could not get one (then it reads with
  // pread). Rings of readers that are gone are torn down here.
  Ring* Find(const std::shared_ptr<ReaderState>& state) {
    PurgeExpired();
    for (Entry& e : entries_) {
      if (e.owner == state.get()) {
        return e.ring.get();
      }
    }
    auto ring = Ring::Create(state->options);
    Entry& e = entries_.emplace_back();
    e.owner = state.get();
    e.alive = state;
    if (ring.ok()) {
      e.ring = std::move(ring).value();
    }
    return e.ring.get();
  }

  // Install adopts a ring already created on this thread (the probe ring).
  void Install(const std::shared_ptr<ReaderState>& state,
               std::unique_ptr<Ring> ring) {
    PurgeExpired();
    Entry& e = entries_.emplace_back();
    e.owner = state.get();
    e.alive = state;
    e.ring = std::move(ring);
  }

  // DropIfBroken destroys `ring` if it broke; the next call makes a new
  // one.
  void DropIfBroken(Ring* ring) {
    if (ring == nullptr || !ring->broken()) {
      return;
    }
    std::erase_if(entries_,
                  [ring](const Entry& e) { return e.ring.get() == ring; });
  }

 private:
  void PurgeExpired() {
    std::erase_if(entries_, [](const Entry& e) { return e.alive.expired(); });
  }

  struct Entry {
    const ReaderState* owner = nullptr;
    std::weak_ptr<ReaderState> alive;
    std::unique_ptr<Ring> ring;  // null: this thread reads with pread
  };
  std::vector<Entry> entries_;
};

thread_local ThreadRings t_rings;

// ReadJob is one file to read through a ring.
struct ReadJob {
  int fd = -1;
  uint64_t size = 0;  // what fstat reported: nothing past it is read
  std::string_view path;
  // dest receives the whole file (ReadFile, ReadBlob); null streams chunks
  // through the ring's buffers (HashBlob).
  Buffer* dest = nullptr;
  // hasher, when set, is fed every byte in file order.
  StreamingHasher* hasher = nullptr;
};

// Op is one chunk read: file bytes [offset, offset + len), `done` of which
// have arrived.
struct Op {
  enum class State { kIdle, kInFlight, kDone };
  uint64_t offset = 0;
  uint32_t len = 0;
  uint32_t done = 0;
  uint32_t requeues = 0;
  State state = State::kIdle;
  iovec iov{};  // READV fallback (kernels before 5.6)
};

class ChunkReader {
 public:
  ChunkReader(Ring& ring, const ReadJob& job)
      : ring_(ring),
        job_(job),
        depth_(ring.depth()),
        chunk_(ring.chunk_bytes()),
        chunks_(job.size == 0 ? 0 : (job.size - 1) / chunk_ + 1) {}

  // Run reads the file and returns how many bytes were delivered in order
  // (fewer than job.size only when the file ended early). Every read it
  // submitted has completed when it returns.
  base::Result<uint64_t, IoError> Run();

 private:
  uint8_t* Destination(uint32_t slot) {
    const Op& op = ops_[slot];
    return job_.dest != nullptr ? job_.dest->data() + op.offset
                                : ring_.slot(slot);
  }
  // Queue prepares an SQE for the rest of ops_[slot] (submitted by the next
  // SubmitAndWait).
  base::Status<IoError> Queue(uint32_t slot);
  base::Status<IoError> SubmitAndWait();
  void Reap();
  void Fail(base::Error<IoError> e) {
    if (!error_) {
      error_ = std::move(e);
    }
  }
  base::Error<IoError> BreakRing(std::string what) {
    ring_.Break(in_flight_, job_.dest);
    return base::MakeError(IoError::kReadError,
                           "io_uring failed while reading " +
                               std::string(job_.path) + ": " + what);
  }

  Ring& ring_;
  const ReadJob& job_;
  const uint32_t depth_;
  const uint64_t chunk_;
  const uint64_t chunks_;
  std::array<Op, kMaxQueueDepth> ops_{};
  uint32_t in_flight_ = 0;    // ops kInFlight (queued or submitted)
  uint32_t unsubmitted_ = 0;  // of which still only in the SQ ring
  bool ended_ = false;        // a chunk came back short: the file shrank
  std::optional<base::Error<IoError>> error_;
};

base::Status<IoError> ChunkReader::Queue(uint32_t slot) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (sqe == nullptr) {
    // Cannot happen: the SQ ring has at least depth entries and each op has
    // at most one SQE queued.
    return BreakRing("submission queue full");
  }
  Op& op = ops_[slot];
  uint8_t* dst = Destination(slot) + op.done;
  const uint32_t want = op.len - op.done;
  const uint64_t offset = op.offset + op.done;
  if (job_.dest == nullptr && ring_.fixed()) {
    io_uring_prep_read_fixed(sqe, job_.fd, dst, want, offset,
                             static_cast<int>(slot));
    ++t_stats.fixed_reads;
  } else if (ring_.has_read_op()) {
    io_uring_prep_read(sqe, job_.fd, dst, want, offset);
  } else {
    op.iov.iov_base = dst;
    op.iov.iov_len = want;
    io_uring_prep_readv(sqe, job_.fd, &op.iov, 1, offset);
  }
  io_uring_sqe_set_data64(sqe, slot);
  op.state = Op::State::kInFlight;
  ++in_flight_;
  ++unsubmitted_;
  ++t_stats.reads_submitted;
  return base::Ok{};
}

base::Status<IoError> ChunkReader::SubmitAndWait() {
  int idle_attempts = 0;
  while (true) {
    if (unsubmitted_ == 0 && io_uring_cq_ready(ring_.get()) > 0) {
      return base::Ok{};
    }
    ++t_stats.enter_calls;
    // One system call submits the batch and waits for a completion.
    const int ret = io_uring_submit_and_wait(ring_.get(), 1);
    if (ret >= 0) {
      const uint32_t submitted =
          std::min<uint32_t>(static_cast<uint32_t>(ret), unsubmitted_);
      unsubmitted_ -= submitted;
      if (io_uring_cq_ready(ring_.get()) > 0) {
        return base::Ok{};
      }
      // A partial submission returns without waiting: go round again.
      if (submitted == 0 && ++idle_attempts > kMaxIdleSubmitAttempts) {
        return BreakRing("submission makes no progress");
      }
      continue;
    }
    if (ret == -EINTR) {
      continue;
    }
    if (ret == -EAGAIN || ret == -EBUSY) {
      // Out of kernel resources or completions to reap: reap what is there,
      // else wait for one of the submitted reads, else retry a while.
      if (io_uring_cq_ready(ring_.get()) > 0) {
        return base::Ok{};
      }
      if (in_flight_ > unsubmitted_) {
        io_uring_cqe* cqe = nullptr;
        const int w = io_uring_wait_cqe(ring_.get(), &cqe);
        if (w == 0 || w == -EINTR || w == -EAGAIN) {
          continue;
        }
        return BreakRing("waiting for a completion: " + ErrnoText(-w));
      }
      if (++idle_attempts > kMaxIdleSubmitAttempts) {
        return BreakRing("submission keeps failing: " + ErrnoText(-ret));
      }
      ::sched_yield();
      continue;
    }
    return BreakRing("io_uring_enter: " + ErrnoText(-ret));
  }
}

void ChunkReader::Reap() {
  std::array<io_uring_cqe*, kMaxQueueDepth> cqes{};
  const unsigned n =
      io_uring_peek_batch_cqe(ring_.get(), cqes.data(), kMaxQueueDepth);
  for (unsigned i = 0; i < n; ++i) {
    const uint64_t slot = io_uring_cqe_get_data64(cqes[i]);
    if (slot >= depth_ || ops_[slot].state != Op::State::kInFlight) {
      // A completion we did not ask for: our accounting is wrong.
      io_uring_cq_advance(ring_.get(), i);
      Fail(BreakRing("unexpected completion"));
      return;
    }
    Op& op = ops_[slot];
    --in_flight_;
    op.state = Op::State::kDone;
    const int res = ring_.Inject(cqes[i]->res);
    const uint32_t want = op.len - op.done;
    const bool stopping = error_.has_value() || ended_;
    if (res == -EAGAIN || res == -EINTR) {
      // Requeued as is (liburing examples/io_uring-cp.c).
      if (stopping) {
        continue;
      }
      if (++op.requeues > kMaxRequeuesPerRead) {
        Fail(base::MakeError(IoError::kReadError,
                             "cannot read " + std::string(job_.path) +
                                 ": the kernel keeps answering " +
                                 ErrnoText(-res)));
        continue;
      }
      ++t_stats.requeued;
      if (auto s = Queue(static_cast<uint32_t>(slot)); !s.ok()) {
        Fail(std::move(s).error());
      }
      continue;
    }
    if (res < 0) {
      Fail(base::MakeError(
          IoError::kReadError,
          "cannot read " + std::string(job_.path) + ": " + ErrnoText(-res)));
      continue;
    }
    if (static_cast<uint32_t>(res) > want) {
      Fail(base::MakeError(IoError::kReadError,
                           "read of " + std::string(job_.path) +
                               " returned more bytes than requested"));
      continue;
    }
    if (res == 0) {
      continue;  // end of file before op.len: the file shrank
    }
    op.done += static_cast<uint32_t>(res);
    op.requeues = 0;
    if (op.done < op.len && !stopping) {
      // Short read: resubmit the rest with the offset advanced.
      ++t_stats.short_reads;
      if (auto s = Queue(static_cast<uint32_t>(slot)); !s.ok()) {
        Fail(std::move(s).error());
      }
    }
  }
  io_uring_cq_advance(ring_.get(), n);
}

base::Result<uint64_t, IoError> ChunkReader::Run() {
  uint64_t next_issue = 0;
  uint64_t next_consume = 0;
  uint64_t delivered = 0;
  while (true) {
    // Keep up to depth chunk reads in flight. A chunk buffer is reused only
    // once its chunk has been consumed.
    while (!error_ && !ended_ && !ring_.broken() && next_issue < chunks_ &&
           next_issue - next_consume < depth_) {
      const auto slot = static_cast<uint32_t>(next_issue % depth_);
      Op& op = ops_[slot];
      op = Op{};
      op.offset = next_issue * chunk_;
      op.len = static_cast<uint32_t>(std::min(chunk_, job_.size - op.offset));
      if (auto s = Queue(slot); !s.ok()) {
        Fail(std::move(s).error());
        break;
      }
      ++next_issue;
    }
    // Consume finished chunks in file order.
    bool progressed = false;
    while (!error_ && !ended_ && next_consume < next_issue) {
      const auto slot = static_cast<uint32_t>(next_consume % depth_);
      Op& op = ops_[slot];
      if (op.state != Op::State::kDone) {
        break;
      }
      if (job_.hasher != nullptr && op.done > 0) {
        job_.hasher->Update(base::ByteView(Destination(slot), op.done));
      }
      delivered += op.done;
      ended_ = op.done < op.len;
      op.state = Op::State::kIdle;
      ++next_consume;
      progressed = true;
    }
    const bool finishing = error_.has_value() || ended_ || ring_.broken() ||
                           next_consume == chunks_;
    if (finishing && in_flight_ == 0) {
      break;
    }
    if (ring_.broken()) {
      // Nothing more can be reaped from a broken ring.
      break;
    }
    if (progressed && !finishing) {
      continue;  // refill before waiting
    }
    if (auto s = SubmitAndWait(); !s.ok()) {
      Fail(std::move(s).error());
      break;
    }
    Reap();
  }
  if (error_) {
    return std::move(*error_);
  }
  return delivered;
}

// ClearNonblock drops the O_NONBLOCK the open path sets (it keeps a FIFO
// from blocking the open): io_uring would otherwise answer -EAGAIN for
// every read that misses the page cache instead of waiting for it.
base::Status<IoError> ClearNonblock(int fd, std::string_view path) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    return base::MakeError(
        IoError::kReadError,
        "cannot set up " + std::string(path) + ": " + ErrnoText(errno));
  }
  return base::Ok{};
}

class UringReader final : public Reader {
 public:
  explicit UringReader(std::shared_ptr<ReaderState> state)
      : state_(std::move(state)) {}

  base::Result<Buffer, IoError> ReadFile(const Repository& repo,
                                         std::string_view relative_path,
                                         size_t max_size) override {
    Ring* ring = t_rings.Find(state_);
    if (ring == nullptr) {
      ++t_stats.pread_fallbacks;
      return state_->pread->ReadFile(repo, relative_path, max_size);
    }
    auto r = ReadWhole(*ring, repo, relative_path, max_size, nullptr);
    t_rings.DropIfBroken(ring);
    return r;
  }

  base::Result<Buffer, IoError> ReadBlob(const Repository& repo,
                                         const Digest& digest,
                                         size_t max_size) override {
    Ring* ring = t_rings.Find(state_);
    if (ring == nullptr) {
      ++t_stats.pread_fallbacks;
      return state_->pread->ReadBlob(repo, digest, max_size);
    }
    const std::string path = digest.BlobPath();
    StreamingHasher hasher(digest.algorithm());
    auto r = ReadWhole(*ring, repo, path, max_size, &hasher);
    t_rings.DropIfBroken(ring);
    if (!r.ok()) {
      return r;
    }
    // image-spec descriptor.md, "Verification": content MUST be verified
    // against its digest before it is trusted.
    if (!(hasher.Finish() == digest)) {
      return base::MakeError(IoError::kDigestMismatch,
                             path + " does not hash to " + digest.ToString() +
                                 ": the blob was altered or corrupted");
    }
    return r;
  }

  base::Result<BlobHash, IoError> HashBlob(const Repository& repo,
                                           const Digest& digest) override {
    Ring* ring = t_rings.Find(state_);
    if (ring == nullptr) {
      ++t_stats.pread_fallbacks;
      return state_->pread->HashBlob(repo, digest);
    }
    auto r = Hash(*ring, repo, digest);
    t_rings.DropIfBroken(ring);
    return r;
  }

 private:
  // ReadWhole reads a file whole into a Buffer, feeding `hasher` (when set)
  // in order as chunks arrive.
  base::Result<Buffer, IoError> ReadWhole(Ring& ring, const Repository& repo,
                                          std::string_view path,
                                          size_t max_size,
                                          StreamingHasher* hasher) {
    TG_ASSIGN_OR_RETURN(base::UniqueFd fd,
                        internal::OpenBeneath(repo.dir_fd.get(), path,
                                              state_->options.resolution));
    TG_ASSIGN_OR_RETURN(const uint64_t size,
                        internal::StatRegular(fd.get(), path));
    // Checked before allocating anything (the size is attacker-controlled).
    if (size > max_size) {
      return base::MakeError(
          IoError::kTooLarge,
          std::string(path) + " has " + std::to_string(size) +
              " bytes, above the limit of " + std::to_string(max_size));
    }
    TG_RETURN_IF_ERROR(ClearNonblock(fd.get(), path));
    if (state_->options.faults.after_open) {
      state_->options.faults.after_open();
    }
    Buffer buffer(static_cast<size_t>(size));
    ReadJob job;
    job.fd = fd.get();
    job.size = size;
    job.path = path;
    job.dest = &buffer;
    job.hasher = hasher;
    ChunkReader reader(ring, job);
    TG_ASSIGN_OR_RETURN(const uint64_t got, reader.Run());
    if (got < size) {
      TG_RETURN_IF_ERROR(internal::CheckShrunk(fd.get(), got, path));
      buffer.Shrink(static_cast<size_t>(got));
    }
    return buffer;
  }

  base::Result<BlobHash, IoError> Hash(Ring& ring, const Repository& repo,
                                       const Digest& digest) {
    const std::string path = digest.BlobPath();
    TG_ASSIGN_OR_RETURN(base::UniqueFd fd,
                        internal::OpenBeneath(repo.dir_fd.get(), path,
                                              state_->options.resolution));
    TG_ASSIGN_OR_RETURN(const uint64_t size,
                        internal::StatRegular(fd.get(), path));
    TG_RETURN_IF_ERROR(ClearNonblock(fd.get(), path));
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    if (state_->options.faults.after_open) {
      state_->options.faults.after_open();
    }
    StreamingHasher hasher(digest.algorithm());
    ReadJob job;
    job.fd = fd.get();
    job.size = size;
    job.path = path;
    job.hasher = &hasher;
    ChunkReader reader(ring, job);
    TG_ASSIGN_OR_RETURN(const uint64_t got, reader.Run());
    if (got < size) {
      TG_RETURN_IF_ERROR(internal::CheckShrunk(fd.get(), got, path));
    }
    return BlobHash{hasher.Finish(), got};
  }

  std::shared_ptr<ReaderState> state_;
};

// MakeUringReader is NewUringReader that also says why it failed.
base::Result<std::unique_ptr<Reader>, IoError> MakeUringReader(
    const UringOptions& options, UringAvailability* why) {
  if (auto v = ValidateOptions(options); !v.ok()) {
    *why = Unavailable(EINVAL, ErrnoText(EINVAL));
    why->detail = v.detail();
    return std::move(v).error();
  }
  auto ring = Ring::Create(options);
  if (!ring.ok()) {
    *why = Unavailable(ring.code(), ErrnoText(ring.code()));
    return base::MakeError(IoError::kReadError, why->detail);
  }
  why->available = true;
  auto state = std::make_shared<ReaderState>();
  state->options = options;
  state->pread = NewPreadReader(options.resolution);
  // The probe ring becomes this thread's ring.
  t_rings.Install(state, std::move(ring).value());
  return std::unique_ptr<Reader>(new UringReader(std::move(state)));
}

}  // namespace

UringAvailability ProbeUring(const UringOptions& options) {
  UringAvailability a;
  if (auto v = ValidateOptions(options); !v.ok()) {
    a = Unavailable(EINVAL, ErrnoText(EINVAL));
    a.detail = v.detail();
    return a;
  }
  auto ring = Ring::Create(options);
  if (!ring.ok()) {
    return Unavailable(ring.code(), ErrnoText(ring.code()));
  }
  a.available = true;
  return a;
}

#else  // !TRUSTGATE_HAVE_LIBURING

namespace {

base::Result<std::unique_ptr<Reader>, IoError> MakeUringReader(
    const UringOptions& options, UringAvailability* why) {
  *why = ProbeUring(options);
  return base::MakeError(IoError::kReadError, why->detail);
}

}  // namespace

UringAvailability ProbeUring(const UringOptions& /*options*/) {
  UringAvailability a = Unavailable(ENOSYS, "built without liburing");
  a.detail =
      "io_uring unavailable (built without liburing): install liburing "
      "(liburing-dev) and reconfigure with -Dio_uring=enabled";
  return a;
}

#endif  // TRUSTGATE_HAVE_LIBURING

base::Result<std::unique_ptr<Reader>, IoError> NewUringReader(
    const UringOptions& options) {
  UringAvailability why;
  return MakeUringReader(options, &why);
}

UringThreadStats ThisThreadUringStats() { return t_stats; }

std::optional<ReaderChoice> ParseReaderChoice(std::string_view text) {
  if (text == "auto") {
    return ReaderChoice::kAuto;
  }
  if (text == "uring" || text == "io_uring") {
    return ReaderChoice::kUring;
  }
  if (text == "pread") {
    return ReaderChoice::kPread;
  }
  return std::nullopt;
}

std::string_view ToString(ReaderChoice choice) {
  switch (choice) {
    case ReaderChoice::kAuto:
      return "auto";
    case ReaderChoice::kUring:
      return "uring";
    case ReaderChoice::kPread:
      return "pread";
  }
  return "auto";
}

base::Result<std::unique_ptr<Reader>, IoError> NewBestReader(
    ReaderChoice choice, std::string* notice) {
  return NewBestReader(choice, UringOptions{}, notice);
}

base::Result<std::unique_ptr<Reader>, IoError> NewBestReader(
    ReaderChoice choice, const UringOptions& options, std::string* notice) {
  if (notice != nullptr) {
    notice->clear();
  }
  if (choice == ReaderChoice::kPread) {
    return NewPreadReader(options.resolution);
  }
  UringAvailability why;
  auto uring = MakeUringReader(options, &why);
  if (uring.ok() || choice == ReaderChoice::kUring) {
    return uring;
  }
  if (notice != nullptr) {
    *notice = "io_uring unavailable (" + why.reason + "): reading with pread";
  }
  return NewPreadReader(options.resolution);
}

}  // namespace trustgate::io
