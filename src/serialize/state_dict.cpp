#include "maskterial/serialize/state_dict.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <variant>

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/versions.h>

#include "maskterial/serialize/zip_records.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial {
namespace {

// Deeper nesting is refused: a state dict is two levels deep, and a million nested lists would overflow the
// stack when freed.
constexpr int kMaxDepth = 32;

// The pickle values torch.save produces for a state dict.
struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Global { std::string module, name; };
struct Mark {};
struct Value {
  using Items = std::vector<ValuePtr>;
  using Pairs = std::vector<std::pair<ValuePtr, ValuePtr>>;
  struct Tuple { Items items; };
  struct List { Items items; };
  struct Dict { Pairs pairs; };
  std::variant<std::monostate, bool, int64_t, double, std::string, Tuple, List, Dict, Global, torch::Tensor, Mark>
      v;
  int depth = 0;           // containers nested inside, 0 for a scalar
  bool contained = false;  // stored in another container: frozen from then on, so no value can contain itself
};

template <class T>
ValuePtr make(T x) {
  auto p = std::make_shared<Value>();
  p->v = std::move(x);
  return p;
}

class Unpickler {
 public:
  using RecordSize = std::function<uint64_t(const std::string& record)>;
  Unpickler(const std::string& data, caffe2::serialize::PyTorchStreamReader& archive, RecordSize record_size,
            const std::string& source)
      : data_(data), archive_(archive), record_size_(std::move(record_size)), source_(source) {}

  ValuePtr run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                       // PROTO
        case 0x95: bytes(8); break;                     // FRAME
        case '.': return pop();                         // STOP
        case '(': stack_.push_back(make(Mark{})); break;  // MARK
        case ')': push(make(Value::Tuple{})); break;    // EMPTY_TUPLE
        case 't': push(tuple(pop_mark())); break;
        case 0x85: push(tuple(pop_n(1))); break;
        case 0x86: push(tuple(pop_n(2))); break;
        case 0x87: push(tuple(pop_n(3))); break;
        case ']': push(make(Value::List{})); break;     // EMPTY_LIST
        case 'l': push(filled<Value::List>(pop_mark())); break;
        case 'a': { auto x = pop(); append(top(), {x}); break; }
        case 'e': { auto xs = pop_mark(); append(top(), xs); break; }
        case '}': push(make(Value::Dict{})); break;     // EMPTY_DICT
        case 'd': push(filled<Value::Dict>(pop_mark())); break;
        case 's': { auto v = pop(); auto k = pop(); append(top(), {k, v}); break; }
        case 'u': { auto items = pop_mark(); append(top(), items); break; }
        case 'X': push(make(bytes(uint32()))); break;   // BINUNICODE
        case 0x8c: push(make(bytes(byte()))); break;    // SHORT_BINUNICODE
        case 0x8d: push(make(bytes(uint64()))); break;  // BINUNICODE8
        case 'U': case 'C': push(make(bytes(byte()))); break;  // SHORT_BINSTRING, SHORT_BINBYTES
        case 'T': case 'B': push(make(bytes(uint32()))); break;  // BINSTRING, BINBYTES
        case 'J': push(make(static_cast<int64_t>(static_cast<int32_t>(uint32())))); break;
        case 'K': push(make(static_cast<int64_t>(byte()))); break;
        case 'M': { const int64_t lo = byte(); push(make(lo | (static_cast<int64_t>(byte()) << 8))); break; }
        case 0x8a: push(make(long1())); break;          // LONG1
        case 'G': push(make(binfloat())); break;
        case 0x88: push(make(true)); break;
        case 0x89: push(make(false)); break;
        case 'N': push(make(std::monostate{})); break;
        case 'c': { std::string module = line(); std::string name = line(); push(make(Global{module, name})); break; }
        case 0x93: { auto name = pop(); auto module = pop(); push(make(Global{as<std::string>(module), as<std::string>(name)})); break; }
        case 'R': { auto args = pop(); auto callable = pop(); push(reduce(as<Global>(callable), as<Value::Tuple>(args).items)); break; }
        case 0x81: { auto args = pop(); auto cls = pop(); push(reduce(as<Global>(cls), as<Value::Tuple>(args).items)); break; }  // NEWOBJ
        case 'b': build(); break;
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        case 'q': memo_[byte()] = top(); break;         // BINPUT
        case 'r': memo_[uint32()] = top(); break;       // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;  // MEMOIZE
        case 'h': push(memo(byte())); break;            // BINGET
        case 'j': push(memo(uint32())); break;          // LONG_BINGET
        case '0': pop(); break;                         // POP
        case '1': pop_mark(); break;                    // POP_MARK
        case '2': push(top()); break;                   // DUP
        default: throw bad("unsupported pickle opcode 0x" + hex(op));
      }
    }
  }

 private:
  Error bad(const std::string& what) const { return file_error(source_, "cannot read checkpoint: " + what); }
  static std::string hex(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return {digits[b >> 4], digits[b & 15]};
  }

  uint8_t byte() {
    if (pos_ >= data_.size()) throw bad("data.pkl ends early");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  std::string bytes(uint64_t n) {
    if (n > data_.size() - pos_) throw bad("data.pkl ends early");
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint32_t uint32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(byte()) << (8 * i);
    return v;
  }
  uint64_t uint64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(byte()) << (8 * i);
    return v;
  }
  int64_t long1() {
    const uint8_t n = byte();
    if (n > 8) throw bad("integer too large");
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(byte()) << (8 * i);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  double binfloat() {  // big-endian IEEE double
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
  }
  std::string line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string::npos) throw bad("data.pkl ends early");
    std::string s = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.empty() || std::holds_alternative<Mark>(stack_.back()->v)) throw bad("pickle stack underflow");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty()) throw bad("pickle stack underflow");
    return stack_.back();
  }
  Value::Items pop_n(size_t n) {
    Value::Items items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    return items;
  }
  // Linear in the items popped: a file of n items takes O(n) however they are grouped.
  Value::Items pop_mark() {
    size_t mark = stack_.size();
    while (mark > 0 && !std::holds_alternative<Mark>(stack_[mark - 1]->v)) --mark;
    if (mark == 0) throw bad("pickle MARK missing");
    Value::Items items(std::make_move_iterator(stack_.begin() + mark), std::make_move_iterator(stack_.end()));
    stack_.resize(mark - 1);
    return items;
  }
  // Records `child` as stored in `parent`: it is frozen, and the parent is at least one level deeper.
  void adopt(Value& parent, Value& child) {
    if (parent.contained || &parent == &child) throw bad("self-referential or modified container in data.pkl");
    child.contained = true;
    parent.depth = std::max(parent.depth, child.depth + 1);
    if (parent.depth > kMaxDepth) throw bad("objects nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  ValuePtr tuple(const Value::Items& items) {
    ValuePtr out = make(Value::Tuple{});
    for (const auto& item : items) adopt(*out, *item);
    std::get<Value::Tuple>(out->v).items = items;
    return out;
  }
  template <class Container>
  ValuePtr filled(const Value::Items& items) {
    ValuePtr out = make(Container{});
    append(out, items);
    return out;
  }
  // LIST APPEND(S) and DICT SETITEM(S) on `target`; dict items come as key, value, key, value...
  void append(const ValuePtr& target, const Value::Items& items) {
    if (auto* list = std::get_if<Value::List>(&target->v)) {
      for (const auto& item : items) adopt(*target, *item);
      list->items.insert(list->items.end(), items.begin(), items.end());
    } else if (auto* dict = std::get_if<Value::Dict>(&target->v)) {
      const Value::Pairs new_pairs = pairs(items);
      for (const auto& item : items) adopt(*target, *item);
      dict->pairs.insert(dict->pairs.end(), new_pairs.begin(), new_pairs.end());
    } else {
      throw bad("unexpected object in data.pkl");
    }
  }
  Value::Pairs pairs(const Value::Items& items) {
    if (items.size() % 2) throw bad("odd number of dict items");
    Value::Pairs out;
    for (size_t i = 0; i < items.size(); i += 2) out.emplace_back(items[i], items[i + 1]);
    return out;
  }
  ValuePtr memo(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) throw bad("pickle memo entry missing");
    return it->second;
  }

  template <class T>
  T& as(const ValuePtr& v) {
    if (!v || !std::holds_alternative<T>(v->v)) throw bad("unexpected object in data.pkl");
    return std::get<T>(v->v);
  }
  int64_t as_int(const ValuePtr& v) { return as<int64_t>(v); }
  std::vector<int64_t> as_ints(const ValuePtr& v) {
    std::vector<int64_t> out;
    for (const auto& x : as<Value::Tuple>(v).items) out.push_back(as_int(x));
    return out;
  }

  ValuePtr reduce(const Global& g, const Value::Items& args) {
    if (g.module == "collections" && g.name == "OrderedDict") return make(Value::Dict{});
    if (g.module == "torch._utils" && g.name == "_rebuild_tensor_v2") {
      if (args.size() < 4) throw bad("_rebuild_tensor_v2 with too few arguments");
      const torch::Tensor& storage = as<torch::Tensor>(args[0]);
      const int64_t offset = as_int(args[1]);
      const auto size = as_ints(args[2]), stride = as_ints(args[3]);
      if (size.size() != stride.size()) throw bad("tensor with mismatched size and stride");
      // The view must lie inside its storage and hold no more elements than it (the copy made below would
      // otherwise be as large as a crafted size asks).
      int64_t last = offset, count = 1;
      bool overflow = offset < 0;
      for (size_t i = 0; i < size.size(); ++i) {
        int64_t step = 0;
        overflow = overflow || size[i] < 0 || stride[i] < 0 || __builtin_mul_overflow(count, size[i], &count);
        if (size[i] > 0)
          overflow = overflow || __builtin_mul_overflow(size[i] - 1, stride[i], &step) ||
                     __builtin_add_overflow(last, step, &last);
      }
      if (overflow || (count > 0 && (last >= storage.numel() || count > storage.numel())))
        throw bad("tensor view outside its storage");
      return make(storage.as_strided(size, stride, offset).clone());
    }
    if (g.module == "torch._utils" && g.name == "_rebuild_parameter" && !args.empty()) return args[0];
    // libtorch's pickler tags typed containers with their TorchScript type; the value is the first argument.
    if (g.module == "torch.jit._pickle" && g.name == "restore_type_tag" && !args.empty()) return args[0];
    throw bad("unsupported object " + g.module + "." + g.name);
  }

  void build() {
    auto state = pop();
    // A state dict carries its `_metadata` (module versions) as instance state; it is not needed here.
    if (!std::holds_alternative<Value::Dict>(top()->v)) throw bad("unsupported BUILD in data.pkl");
  }

  ValuePtr persistent_load(const ValuePtr& pid) {
    const auto& t = as<Value::Tuple>(pid).items;
    if (t.size() < 5 || as<std::string>(t[0]) != "storage") throw bad("unsupported persistent id");
    const std::string type = as<Global>(t[1]).name;
    const std::string key = as<std::string>(t[2]);
    const int64_t numel = as_int(t[4]);
    static const std::map<std::string, torch::Dtype> kTypes = {
        {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64}, {"HalfStorage", torch::kFloat16},
        {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kInt64}, {"IntStorage", torch::kInt32},
        {"ShortStorage", torch::kInt16}, {"CharStorage", torch::kInt8}, {"ByteStorage", torch::kUInt8},
        {"BoolStorage", torch::kBool}};
    const auto it = kTypes.find(type);
    if (it == kTypes.end()) throw bad("unsupported storage type " + type);
    const auto cached = storages_.find(key);
    if (cached != storages_.end()) return make(cached->second);
    const std::string record = "data/" + key;
    if (!archive_.hasRecord(record)) throw bad("missing record " + record);
    int64_t need = 0;
    const int64_t item_size = static_cast<int64_t>(c10::elementSize(it->second));
    if (numel < 0 || __builtin_mul_overflow(numel, item_size, &need) || static_cast<uint64_t>(need) > record_size_(record))
      throw bad("record " + record + " is smaller than its " + std::to_string(numel) + " elements");
    auto [ptr, size] = archive_.getRecord(record);
    if (size < static_cast<size_t>(need)) throw bad("record " + record + " is truncated");
    torch::Tensor storage = torch::empty({numel}, torch::TensorOptions().dtype(it->second));
    std::memcpy(storage.data_ptr(), ptr.get(), static_cast<size_t>(need));
    storages_[key] = storage;
    return make(storage);
  }

  const std::string& data_;
  caffe2::serialize::PyTorchStreamReader& archive_;
  RecordSize record_size_;
  const std::string& source_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::map<uint64_t, ValuePtr> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

StateDict to_state_dict(const ValuePtr& root, const std::string& source, bool nested = false) {
  const auto* dict = std::get_if<Value::Dict>(&root->v);
  if (!dict) throw file_error(source, "checkpoint does not hold a dict");
  StateDict out;
  for (const auto& [k, v] : dict->pairs) {
    const auto* key = std::get_if<std::string>(&k->v);
    if (!key) throw file_error(source, "checkpoint dict has a non-string key");
    if (const auto* t = std::get_if<torch::Tensor>(&v->v)) {
      out.emplace_back(*key, *t);
    } else if (!nested && std::holds_alternative<Value::Dict>(v->v) && (*key == "model" || *key == "state_dict")) {
      return to_state_dict(v, source, true);  // {"model": state_dict, ...} as training checkpoints store it
    }
  }
  if (out.empty()) throw file_error(source, "checkpoint holds no tensors");
  return out;
}

// What PyTorchStreamReader's constructor would refuse, refused first: when it throws, libtorch (1.13 and 2.x)
// never frees its zip reader (found by fuzz_model_files as LeakSanitizer reports). torch.save writes every
// record under one top folder, the first of them in the central directory, with a version record in range.
void check_archive_layout(const std::string& bytes, const std::map<std::string, ZipRecord>& records,
                          const std::string& path) {
  const auto first = std::min_element(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return a.second.directory_index < b.second.directory_index;
  });
  if (first == records.end()) throw file_error(path, "not a torch.save archive (no records)");
  const size_t slash = first->first.find('/');
  if (slash == std::string::npos)
    throw file_error(path, "not a torch.save archive (" + first->first + " is not in a folder)");
  const std::string top = first->first.substr(0, slash + 1);
  auto version = records.find(top + ".data/version");
  if (version == records.end()) version = records.find(top + "version");
  if (version == records.end()) throw file_error(path, "not a torch.save archive (no version record)");
  std::string text = stored_record(bytes, version->second, path);  // "3\n"
  if (!text.empty() && text.back() == '\n') text.pop_back();
  uint64_t value = 0;
  bool digits = !text.empty() && text.size() <= 8;
  for (char c : text) {
    digits = digits && c >= '0' && c <= '9';
    if (digits) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!digits || value < caffe2::serialize::kMinSupportedFileFormatVersion ||
      value > caffe2::serialize::kMaxSupportedFileFormatVersion)
    throw file_error(path, "torch.save archive of an unsupported format version '" + text.substr(0, 16) + "'");
}

}  // namespace

StateDict load_state_dict(const std::string& path) {
  // Sizes from the central directory first: nothing is inflated beyond the archive's own size (torch.save
  // stores records uncompressed, so a larger record is a decompression bomb).
  const std::string bytes = read_file(path);
  const std::map<std::string, ZipRecord> records = zip_records(bytes, path);
  std::map<std::string, uint64_t> sizes;  // by name inside the archive's top folder, as PyTorchStreamReader names them
  for (const auto& [name, record] : records) {
    const size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    if (record.uncompressed_size > bytes.size())
      throw file_error(path, "record " + name + " inflates to " + std::to_string(record.uncompressed_size) +
                                 " bytes, more than the archive holds (decompression bomb?)");
    sizes[name.substr(slash + 1)] = record.uncompressed_size;
  }
  check_archive_layout(bytes, records, path);
  const auto record_size = [&](const std::string& record) {
    const auto it = sizes.find(record);
    return it == sizes.end() ? uint64_t{0} : it->second;
  };
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> archive;
  std::string pickle;
  try {
    archive = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
    if (!archive->hasRecord("data.pkl")) throw file_error(path, "not a torch.save archive (no data.pkl)");
    auto [ptr, size] = archive->getRecord("data.pkl");
    pickle.assign(static_cast<const char*>(ptr.get()), size);
    if (archive->hasRecord("byteorder")) {
      auto [order, n] = archive->getRecord("byteorder");
      if (std::string(static_cast<const char*>(order.get()), n) != "little")
        throw file_error(path, "big-endian checkpoints are not supported");
    }
  } catch (const c10::Error& e) {
    throw file_error(path, "not a readable torch.save zip archive (" + std::string(e.what_without_backtrace()) + ")");
  }
  try {
    Unpickler unpickler(pickle, *archive, record_size, path);
    return to_state_dict(unpickler.run(), path);
  } catch (const c10::Error& e) {
    throw file_error(path, "corrupt checkpoint (" + std::string(e.what_without_backtrace()) + ")");
  }
}

void save_state_dict(const std::string& path, const StateDict& tensors) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(dict);
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

const torch::Tensor& find_tensor(const StateDict& dict, const std::string& name, const std::string& source) {
  for (const auto& [key, tensor] : dict)
    if (key == name) return tensor;
  throw file_error(source, "no tensor named '" + name + "'");
}

}  // namespace maskterial
