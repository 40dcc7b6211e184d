#include "batch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <new>
#include <thread>

namespace pqc {
namespace {

const char* const kResourceNames[kOpCount] = {
    "x0tta6bl4-pqc:kem-keypair", "x0tta6bl4-pqc:kem-keypair-derand",
    "x0tta6bl4-pqc:kem-encaps",  "x0tta6bl4-pqc:kem-encaps-derand",
    "x0tta6bl4-pqc:kem-decaps",  "x0tta6bl4-pqc:sig-keypair",
    "x0tta6bl4-pqc:sig-sign",    "x0tta6bl4-pqc:sig-verify",
};

// The memory of the input copies of batches that have settled on this thread, for the next
// ones: the copy is the calling thread's largest share of a part, and memory the process has not
// used before costs a page fault per 4 KiB, tens of microseconds on some virtual machines, which
// stalls the event loop. A few part-sized buffers are kept; a batch of one huge item is not.
class SpareCopies {
 public:
  static std::vector<uint8_t> Take() {
    std::vector<std::vector<uint8_t>>& spares = Spares();
    if (spares.empty()) return {};
    std::vector<uint8_t> bytes = std::move(spares.back());
    spares.pop_back();
    return bytes;
  }

  // `bytes` holds no secret any more: a secret copy is wiped before it is given back.
  static void Give(std::vector<uint8_t> bytes) {
    std::vector<std::vector<uint8_t>>& spares = Spares();
    if (bytes.capacity() == 0 || bytes.capacity() > kLargest || spares.size() >= kKept) return;
    bytes.clear();
    spares.push_back(std::move(bytes));
  }

 private:
  // The parts in flight (IN_FLIGHT in lib/native/native-backend.ts: 4 per pool thread) hold a
  // copy per input operand each, and that file bounds a part's input bytes well below kLargest.
  static constexpr size_t kKept = 32;
  static constexpr size_t kLargest = size_t{1} << 20;

  // Reserved in full when the thread first takes a copy (Take, while inputs are being copied, where
  // running out of memory is reported): Give runs in a destructor and must not allocate.
  static std::vector<std::vector<uint8_t>>& Spares() {
    thread_local std::vector<std::vector<uint8_t>> spares = [] {
      std::vector<std::vector<uint8_t>> reserved;
      reserved.reserve(kKept);
      return reserved;
    }();
    return spares;
  }
};

// One input operand copied off the JS heap: a single value shared by every item, or one value
// per item laid end to end. A secret one is wiped when it goes, on every path: a batch that ran,
// and one refused while its inputs were being copied.
struct CopiedInput {
  explicit CopiedInput(bool secret) : secret(secret), bytes(SpareCopies::Take()) {}
  CopiedInput(CopiedInput&&) = default;
  CopiedInput& operator=(CopiedInput&&) = delete;
  ~CopiedInput() {
    if (secret && !bytes.empty()) ActiveLiboqs()->mem_cleanse(bytes.data(), bytes.size());
    SpareCopies::Give(std::move(bytes));
  }

  Bytes Item(uint32_t i) {
    if (offsets.empty()) return Bytes{bytes.data(), bytes.size()};
    return Bytes{bytes.data() + offsets[i], offsets[i + 1] - offsets[i]};
  }

  const bool secret;
  // Never grown for a secret operand, which would free a partial copy unwiped: keys and seeds
  // have one length, and their copy is reserved in full up front.
  std::vector<uint8_t> bytes;
  std::vector<size_t> offsets;  // count + 1 entries, empty when shared
};

// Where the workers write output operand k: public items end to end in one buffer, each secret
// item straight into an ArrayBuffer of its own, the memory a SecretBytes needs (lib/bytes.ts),
// so that the calling thread neither copies secrets out of a shared buffer nor wipes one.
struct Output {
  size_t length = 0;
  uint8_t* items = nullptr;        // a public operand's `count` items
  std::vector<uint8_t*> secrets;  // a secret operand's, one per item

  uint8_t* Item(uint32_t i) const { return items != nullptr ? items + size_t{i} * length : secrets[i]; }
  void WipeSecrets() const {
    for (uint8_t* secret : secrets) ActiveLiboqs()->mem_cleanse(secret, length);
  }
};

// Made once its inputs are copied and its outputs allocated: a promise made before a refusal
// would never be settled, and Node-API frees a promise's handle only when it is settled.
struct Batch {
  Batch(Napi::Env env, std::shared_ptr<const Algorithm> algorithm, int op, uint32_t count,
        std::vector<CopiedInput> inputs, std::vector<Output> outputs, Napi::ObjectReference result)
      : algorithm(std::move(algorithm)),
        op(op),
        count(count),
        inputs(std::move(inputs)),
        outputs(std::move(outputs)),
        values(count, 0),
        result(std::move(result)),
        deferred(Napi::Promise::Deferred::New(env)) {}

  void WipeSecretOutputs() {
    for (const Output& output : outputs) output.WipeSecrets();
  }

  std::shared_ptr<const Algorithm> algorithm;
  int op;
  uint32_t count;
  std::vector<CopiedInput> inputs;
  // JS sees the outputs only once the batch has settled (`result` holds them until then, so
  // nothing can detach one under a worker).
  std::vector<Output> outputs;
  std::vector<int64_t> values;
  // Keeps the output ArrayBuffers alive while workers write, until the last worker is destroyed
  // right after settling.
  Napi::ObjectReference result;
  Napi::Promise::Deferred deferred;
  // Workers take items one at a time: a worker that starts late or is preempted (by the main
  // thread, GC, another process) leaves its share to the others instead of holding up the batch.
  std::atomic<uint32_t> next{0};
  uint32_t pending = 0;
  bool failed = false;
};

// Bytes copied for one batch, and produced per output: beyond this the caller should split it.
constexpr size_t kMaxBatchBytes = size_t{1} << 30;

// Counts `count` items of `length` bytes against the cap before any of them is copied.
void Charge(Napi::Env env, size_t length, size_t count, size_t* copied) {
  if (length > (kMaxBatchBytes - *copied) / count) {
    ThrowInvalid(env, "a batch may copy at most " + std::to_string(kMaxBatchBytes) +
                          " bytes of input; split it");
  }
  *copied += length * count;
}

// Adds the operand's copy to `inputs` before filling it: a refusal part way through (an item
// that fails its check, the size cap) leaves the partial copy where it is wiped.
void CopyInput(Napi::Env env, const Napi::Value& value, const OperandShape& shape, uint32_t count,
               size_t* copied, std::vector<CopiedInput>* inputs) {
  CopiedInput& copy = inputs->emplace_back(shape.secret);
  const auto append = [&](const Bytes& bytes) {
    copy.bytes.insert(copy.bytes.end(), bytes.data, bytes.data + bytes.length);
  };
  if (!value.IsArray()) {
    const Bytes bytes = RequireBytes(env, value, shape.name, shape.length, shape.max_length);
    Charge(env, bytes.length, 1, copied);
    append(bytes);
    return;
  }
  Napi::Array array = value.As<Napi::Array>();
  if (array.Length() != count) {
    ThrowInvalid(env, std::string(shape.name) + " must hold " + std::to_string(count) +
                          " items, got " + std::to_string(array.Length()));
  }
  const bool fixed = shape.length != kAnyLength;
  if (fixed) {
    Charge(env, shape.length, count, copied);
    copy.bytes.reserve(shape.length * count);
  }
  copy.offsets.reserve(count + 1);
  copy.offsets.push_back(0);
  for (uint32_t i = 0; i < count; i++) {
    // Array.Get can run JavaScript (a getter) that detaches or frees an earlier item's buffer:
    // each item is copied before the next is read.
    const Bytes bytes =
        RequireBytes(env, array.Get(i), shape.name, shape.length, shape.max_length, i);
    if (!fixed) Charge(env, bytes.length, 1, copied);
    append(bytes);
    copy.offsets.push_back(copy.bytes.size());
  }
}

constexpr std::chrono::microseconds kYieldEvery{250};

class BatchWorker final : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, std::shared_ptr<Batch> batch)
      : Napi::AsyncWorker(env, kResourceNames[batch->op]), batch_(std::move(batch)) {}

  void Execute() override {
    Batch& batch = *batch_;
    const OpShape& shape = batch.algorithm->Shape(batch.op);
    Bytes in[kMaxInputs];
    uint8_t* out[kMaxOutputs] = {};
    auto turn_began = std::chrono::steady_clock::now();
    for (uint32_t i; (i = batch.next.fetch_add(1, std::memory_order_relaxed)) < batch.count;) {
      for (int k = 0; k < shape.inputs; k++) in[k] = batch.inputs[k].Item(i);
      for (int k = 0; k < shape.outputs; k++) out[k] = batch.outputs[k].Item(i);
      batch.values[i] = batch.algorithm->Execute(batch.op, in, out);
      // With every core running a worker, a calling thread that wakes to hand out a part waits
      // for one until the scheduler preempts a worker: up to a whole time slice, ~12 ms on a
      // 2-core Linux machine, during which its event loop does not turn. A worker gives way
      // between items instead, every kYieldEvery; yielding with nothing waiting is a system call.
      const auto now = std::chrono::steady_clock::now();
      if (now - turn_began >= kYieldEvery) {
        std::this_thread::yield();
        turn_began = now;
      }
    }
  }

  void OnOK() override { Settle(false); }
  void OnError(const Napi::Error&) override { Settle(true); }

 private:
  // Every worker reports here on the main thread; the last one settles the promise. This runs
  // from a C callback and must not throw: in an environment being torn down (a worker_thread
  // terminated with the batch in flight) every N-API call that needs JavaScript fails.
  void Settle(bool worker_failed) {
    Batch& batch = *batch_;
    batch.failed = batch.failed || worker_failed;
    if (--batch.pending > 0) return;
    bool failed = batch.failed || std::any_of(batch.values.begin(), batch.values.end(),
                                              [](int64_t value) { return value == kFailed; });
    // The caller never sees these outputs; secret ones are wiped before any call that can fail.
    if (failed) batch.WipeSecretOutputs();
    Napi::Value outcome;
    try {
      outcome = failed ? Failure(batch.algorithm->name() + ": liboqs reported an error") : Results();
    } catch (...) {
      batch.WipeSecretOutputs();
      failed = true;
      try {
        outcome = Failure("the batch's results could not be delivered");
      } catch (...) {
        return;  // nothing can reach JavaScript any more
      }
    }
    // Called once whatever happens: a failed napi_resolve_deferred may already have freed it.
    try {
      if (failed) {
        batch.deferred.Reject(outcome);
      } else {
        batch.deferred.Resolve(outcome);
      }
    } catch (...) {
      batch.WipeSecretOutputs();
    }
  }

  Napi::Value Failure(const std::string& message) {
    return PqcError(Env(), "ERR_PQC_OPERATION_FAILED", message).Value();
  }

  Napi::Value Results() {
    Batch& batch = *batch_;
    Napi::Array result = batch.result.Value().As<Napi::Array>();
    Napi::Float64Array values = Napi::Float64Array::New(Env(), batch.count);
    for (uint32_t i = 0; i < batch.count; i++) values[i] = static_cast<double>(batch.values[i]);
    result.Set(kMaxOutputs, values);
    return result;
  }

  std::shared_ptr<Batch> batch_;
};

}  // namespace

Napi::Promise RunBatch(Napi::Env env, std::shared_ptr<const Algorithm> algorithm, int op,
                       uint32_t count, uint32_t workers, const std::vector<Napi::Value>& inputs) {
  const OpShape& shape = algorithm->Shape(op);
  // Refused before any input is copied.
  for (int k = 0; k < shape.outputs; k++) {
    if (shape.out[k].length > kMaxBatchBytes / count) {
      ThrowInvalid(env, "a batch may produce at most " + std::to_string(kMaxBatchBytes) +
                            " bytes per output; split it");
    }
  }
  std::vector<CopiedInput> copies;
  size_t copied = 0;
  try {
    for (int k = 0; k < shape.inputs; k++) {
      CopyInput(env, inputs[k], shape.in[k], count, &copied, &copies);
    }
  } catch (const std::bad_alloc&) {
    ThrowPqc(env, "ERR_PQC_OPERATION_FAILED", "out of memory copying the batch's inputs");
  }
  // [outputs[0], outputs[1], values]: a public output is one Uint8Array of the `count` items end
  // to end, a secret one an Array of `count` ArrayBuffers. A public output is one allocation
  // instead of one per item: the calling thread's share of a batch is what bounds its rate.
  Napi::Array result = Napi::Array::New(env, kMaxOutputs + 1);
  std::vector<Output> outputs;
  try {
    for (int k = 0; k < shape.outputs; k++) {
      Output& output = outputs.emplace_back();
      output.length = shape.out[k].length;
      if (!shape.out[k].secret) {
        Napi::Uint8Array items = Napi::Uint8Array::New(env, output.length * count);
        output.items = items.Data();
        result.Set(k, items);
        continue;
      }
      output.secrets.reserve(count);
      Napi::Array items = Napi::Array::New(env, count);
      for (uint32_t i = 0; i < count; i++) {
        Napi::ArrayBuffer item = Napi::ArrayBuffer::New(env, output.length);
        output.secrets.push_back(static_cast<uint8_t*>(item.Data()));
        items.Set(i, item);
      }
      result.Set(k, items);
    }
  } catch (const std::bad_alloc&) {
    ThrowPqc(env, "ERR_PQC_OPERATION_FAILED", "out of memory making the batch's outputs");
  }
  auto batch = std::make_shared<Batch>(env, std::move(algorithm), op, count, std::move(copies),
                                       std::move(outputs), Napi::Persistent(result.As<Napi::Object>()));

  workers = std::min(workers, count);
  Napi::Promise promise = batch->deferred.Promise();
  uint32_t queued = 0;
  try {
    for (; queued < workers; queued++) {
      auto worker = std::make_unique<BatchWorker>(env, batch);
      worker->Queue();
      worker.release();  // Node-API deletes it once it has settled
    }
  } catch (const Napi::Error& error) {
    // Queuing fails only on invalid arguments. The workers already queued share the whole batch
    // (they take items from one counter), so only they report; with none, the batch fails here.
    if (queued == 0) batch->deferred.Reject(error.Value());
  }
  // Workers report on this thread, after this function returns.
  batch->pending = queued;
  return promise;
}

}  // namespace pqc
