#include "controller/call_authorizer.h"

#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

std::shared_ptr<const TokenTable> Tokens() {
  return std::make_shared<const TokenTable>(*TokenTable::Parse(
      "reader read r-0123456789abcdef\n"
      "worker-a worker w-0123456789abcdef\n"
      "alice admin a-0123456789abcdef\n"));
}

CallCredentials Call(std::optional<std::string> authorization,
                     std::string peer = "ipv4:10.1.2.3:5000") {
  CallCredentials c;
  c.authorization = std::move(authorization);
  c.peer = std::move(peer);
  return c;
}

TEST(CallAuthorizerTest, EachRoleMayMakeItsCallsAndNoOthers) {
  CallAuthorizer auth({Tokens()});
  struct Case {
    const char* token;
    Role needed;
    absl::StatusCode code;
  };
  for (const Case& c :
       {Case{"r-0123456789abcdef", Role::kRead, absl::StatusCode::kOk},
        Case{"r-0123456789abcdef", Role::kAdmin, absl::StatusCode::kPermissionDenied},
        Case{"r-0123456789abcdef", Role::kWorker, absl::StatusCode::kPermissionDenied},
        Case{"w-0123456789abcdef", Role::kWorker, absl::StatusCode::kOk},
        Case{"w-0123456789abcdef", Role::kRead, absl::StatusCode::kPermissionDenied},
        Case{"w-0123456789abcdef", Role::kAdmin, absl::StatusCode::kPermissionDenied},
        Case{"a-0123456789abcdef", Role::kRead, absl::StatusCode::kOk},
        Case{"a-0123456789abcdef", Role::kWorker, absl::StatusCode::kOk},
        Case{"a-0123456789abcdef", Role::kAdmin, absl::StatusCode::kOk}}) {
    absl::StatusOr<Caller> caller =
        auth.Authorize(Call(std::string("Bearer ") + c.token), c.needed);
    EXPECT_EQ(caller.status().code(), c.code) << c.token << " " << RoleName(c.needed);
  }
  absl::StatusOr<Caller> alice = auth.Authorize(Call("bearer a-0123456789abcdef"), Role::kAdmin);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->name, "alice");
  absl::StatusOr<Caller> denied = auth.Authorize(Call("Bearer r-0123456789abcdef"), Role::kAdmin);
  EXPECT_EQ(denied.status().message(), "this call needs the admin role; reader has read");
}

TEST(CallAuthorizerTest, MissingMalformedOrUnknownTokensAreUnauthenticated) {
  CallAuthorizer auth({Tokens()});
  for (const std::optional<std::string>& header :
       {std::optional<std::string>(), std::optional<std::string>(""),
        std::optional<std::string>("a-0123456789abcdef"),
        std::optional<std::string>("Basic a-0123456789abcdef"),
        std::optional<std::string>("Bearer a-0123456789abcdeX"),
        std::optional<std::string>("Bearer ")}) {
    absl::StatusOr<Caller> caller = auth.Authorize(Call(header, "ipv4:127.0.0.1:5"), Role::kRead);
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated) << header.value_or("-");
    EXPECT_EQ(std::string(caller.status().message()).find("0123456789"), std::string::npos);
  }
}

// Without tokens the controller binds loopback only; its local callers are admin.
TEST(CallAuthorizerTest, WithoutTokensLoopbackCallersAreLocalAdmins) {
  CallAuthorizer auth({});
  // As gRPC 1.51 writes them (brackets percent-encoded), and plain.
  for (const char* peer :
       {"ipv4:127.0.0.1:4000", "ipv4:127.255.0.9:1", "ipv6:%5B::1%5D:4000", "ipv6:[::1]:4000",
        "unix:/run/s.sock", "ipv6:%5B::ffff:127.0.0.1%5D:4000"}) {
    absl::StatusOr<Caller> caller = auth.Authorize(Call(std::nullopt, peer), Role::kAdmin);
    ASSERT_TRUE(caller.ok()) << peer;
    EXPECT_EQ(caller->name, "local");
  }
  for (const char* peer : {"ipv4:10.0.0.1:4000", "ipv6:%5Bfe80::1%5D:4000", "ipv4:128.0.0.1:1",
                           "ipv6:%5B::ffff:10.0.0.1%5D:1", "ipv6:%5B::2%5D:1", "ipv4:1.127.0.1:1",
                           "dns:localhost:1", "ipv4:127.0.0.1.evil.com:1", ""}) {
    EXPECT_EQ(auth.Authorize(Call(std::nullopt, peer), Role::kRead).status().code(),
              absl::StatusCode::kUnauthenticated)
        << peer;
  }
  CallAuthorizer open({nullptr, /*allow_unauthenticated=*/true});
  absl::StatusOr<Caller> remote = open.Authorize(Call(std::nullopt), Role::kAdmin);
  ASSERT_TRUE(remote.ok());
  EXPECT_EQ(remote->name, "unauthenticated ipv4:10.1.2.3:5000");
  // A reconnect comes from another port: it owns the same worker ids.
  EXPECT_EQ(remote->owner,
            open.Authorize(Call(std::nullopt, "ipv4:10.1.2.3:5001"), Role::kWorker)->owner);
}

TEST(CallAuthorizerTest, WithMutualTlsAWorkerNeedsAVerifiedCertificate) {
  CallAuthorizer auth({Tokens(), false, /*require_worker_certificate=*/true});
  CallCredentials call = Call("Bearer w-0123456789abcdef");
  EXPECT_EQ(auth.Authorize(call, Role::kWorker).status().code(),
            absl::StatusCode::kUnauthenticated);
  call.verified_client_certificate = true;
  EXPECT_TRUE(auth.Authorize(call, Role::kWorker).ok());
  // sluicectl needs none.
  EXPECT_TRUE(auth.Authorize(Call("Bearer r-0123456789abcdef"), Role::kRead).ok());
}

// SIGHUP reads the tokens file again: a revoked token is refused at once.
TEST(CallAuthorizerTest, ReplacedTokensTakeEffectAtOnce) {
  CallAuthorizer auth({Tokens()});
  ASSERT_TRUE(auth.Authorize(Call("Bearer a-0123456789abcdef"), Role::kAdmin).ok());
  ASSERT_TRUE(auth.ReplaceTokens(std::make_shared<const TokenTable>(
                                     *TokenTable::Parse("alice admin a2-0123456789abcdef\n")))
                  .ok());
  EXPECT_EQ(auth.Authorize(Call("Bearer a-0123456789abcdef"), Role::kAdmin).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(auth.Authorize(Call("Bearer a2-0123456789abcdef"), Role::kAdmin).ok());
  CallAuthorizer local({});
  EXPECT_EQ(local.ReplaceTokens(Tokens()).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace sluice::controller
