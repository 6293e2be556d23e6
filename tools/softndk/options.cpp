// Implementation of options.h.
#include "options.h"

#include <cctype>
#include <cstdlib>
#include <utility>

#include "errors.h"

namespace softndk::cli {

std::optional<uint64_t> parse_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  const uint64_t value = std::strtoull(text.substr(0, digits).c_str(), nullptr, 10);
  std::string suffix = text.substr(digits);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::pair<const char*, unsigned> kSuffixes[] = {
      {"", 0},    {"B", 0},    {"K", 10},  {"KB", 10},  {"KIB", 10}, {"M", 20},
      {"MB", 20}, {"MIB", 20}, {"G", 30},  {"GB", 30},  {"GIB", 30}};
  for (const auto& [name, shift] : kSuffixes)
    if (suffix == name) return value << shift;  // value < 10^12 < 2^40: no overflow
  return std::nullopt;
}

std::vector<uint64_t> parse_size_list(const std::string& text) {
  std::vector<uint64_t> sizes;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    std::optional<uint64_t> size = parse_size(item);
    if (!size) throw UsageError("bad size \"" + item + "\" (examples: 64, 4K, 1M)");
    if (*size == 0 || *size > kMaxMessageBytes)
      throw UsageError("size " + item + " is out of range (1 B to 1 GiB)");
    sizes.push_back(*size);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return sizes;
}

std::vector<uint64_t> sweep_sizes(uint64_t max) {
  std::vector<uint64_t> sizes;
  for (uint64_t s = 2; s <= max; s *= 2) sizes.push_back(s);
  return sizes;
}

std::vector<Op> parse_op_list(const std::string& text) {
  std::vector<Op> ops;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    if (item == "all") {
      ops.insert(ops.end(), {Op::Send, Op::Write, Op::Read});
    } else if (item == "mem") {
      ops.insert(ops.end(), {Op::Register, Op::FastRegister, Op::Bind, Op::SendInvalidate});
    } else if (std::optional<Op> op = parse_op(item); op && *op != Op::Ping) {
      ops.push_back(*op);
    } else {
      throw UsageError("unknown operation \"" + item +
                       "\" (send, write, read, reg, fastreg, bind, sendinv, all, mem)");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ops;
}

bool has_mpa_crc(const std::string& uri) { return split_uri(uri).scheme == "tcp"; }

CrcRequest crc_request_of(const std::string& uri) {
  if (is_in_process(split_uri(uri))) return CrcRequest::NotApplicable;
  if (std::optional<std::string> value = uri_option(uri, "crc")) {
    if (*value == "1") return CrcRequest::On;
    if (*value == "0") return CrcRequest::Off;
    return CrcRequest::NotApplicable;  // the adapter refuses such a URI
  }
  return has_mpa_crc(uri) ? CrcRequest::On : CrcRequest::NotApplicable;
}

CrcChoice apply_crc(const std::string& uri, const std::string& crc, bool server) {
  CrcChoice choice;
  choice.uri = uri;
  if (is_in_process(split_uri(uri))) return choice;
  const std::optional<std::string> in_uri = uri_option(uri, "crc");
  if (in_uri) {
    // The adapter refuses a key given twice: the URI's own crc= stays, --crc must agree.
    if (!crc.empty() && *in_uri != (crc == "on" ? "1" : "0"))
      throw UsageError("--crc " + crc + " contradicts crc=" + *in_uri + " in the URI");
    choice.chosen = true;
  } else if (!crc.empty()) {
    choice.uri = with_option(uri, "crc", crc == "on" ? "1" : "0");
    choice.chosen = true;
  } else if (server && has_mpa_crc(uri)) {
    // No choice on the server: do not request CRC, so each client's request decides.
    choice.uri = with_option(uri, "crc", "0");
  }
  choice.request = crc_request_of(choice.uri);
  return choice;
}

namespace {

int family_of_host(const std::string& host) {
  SocketAddress own;
  return !host.empty() && SocketAddress::parse(host, 0, &own) ? own.family() : AF_UNSPEC;
}

bool is_wildcard_host(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

// A client's adapter URI: the given one, unless it names no address of its own (none given,
// or a wildcard): then tcp:// on the source address routing picks for the server.
std::string client_uri(const std::string& uri, bool uri_given, const SocketAddress& server) {
  const UriParts parts = split_uri(uri);
  if (uri_given && !is_wildcard_host(parts.host)) return uri;
  std::optional<SocketAddress> source = source_address_for(server);
  if (!source)
    throw Error("no route to " + server.text() + ": this host has no address to reach it from",
                STATUS_NETWORK_UNREACHABLE);
  std::string chosen = tcp_uri_of(*source);
  if (!parts.query.empty()) chosen += "?" + parts.query;
  return chosen;
}

}  // namespace

Placement place_ends(const std::string& command, const std::string& uri, bool uri_given,
                     bool server, const std::string& peer, std::optional<uint16_t> port) {
  Placement p;
  if (server && !peer.empty())
    throw UsageError("--server takes no peer address (the server listens on the adapter's own "
                     "address)");
  // Without --uri, two processes talk over TCP: a server on every address, a client from the
  // address that reaches its server.
  p.uri = !uri_given && server ? std::string("tcp://0.0.0.0") : uri;
  UriParts parts = split_uri(p.uri);
  if (is_in_process(parts) && (server || (!peer.empty() && uri_given))) {
    throw UsageError(
        "\"" + parts.scheme + "\" is an in-process fabric: a " +
        (server ? std::string("server in its own process") : "server in another process") +
        " cannot be reached over it. Run `softndk " + command +
        "` with neither --server nor an address to run both ends in this process, or choose a "
        "transport that leaves the process with --uri (e.g. tcp://IP)");
  }
  p.server = server;
  p.in_process = !server && peer.empty();
  if (peer.empty()) return p;
  const int family = uri_given && !is_in_process(parts) ? family_of_host(parts.host) : AF_UNSPEC;
  const std::string error =
      SocketAddress::resolve(peer, port.value_or(kDefaultPort), family, &p.peer);
  if (!error.empty()) {
    SocketAddress any;
    if (family != AF_UNSPEC && SocketAddress::resolve(peer, 0, AF_UNSPEC, &any).empty())
      throw UsageError("the adapter's address " + parts.host + " and the server address " + peer +
                       " are of different IP families");
    throw UsageError(error + " (server ADDRESS: IPv4[:PORT], [IPv6][:PORT] or HOST[:PORT])");
  }
  p.uri = client_uri(p.uri, uri_given && !is_in_process(parts), p.peer);
  return p;
}

}  // namespace softndk::cli
