// Option checks and the offline behaviour of the Paho client: no broker, no network.
#include <gtest/gtest.h>

#include <fstream>

#include "agent/transport/paho_mqtt_client.h"
#include "tests/support/test_support.h"

namespace weir::transport {
namespace {

MqttOptions Valid() {
  MqttOptions o;
  o.url = "mqtt://127.0.0.1:1883";
  o.client_id = "unit";
  return o;
}

TEST(TransportUriTest, MqttSchemesMapToPahoSchemesWithDefaultPorts) {
  EXPECT_EQ(PahoServerUri("mqtt://broker.example").value(), "tcp://broker.example:1883");
  EXPECT_EQ(PahoServerUri("mqtt://10.0.0.1:1884").value(), "tcp://10.0.0.1:1884");
  EXPECT_EQ(PahoServerUri("mqtts://broker.example").value(), "ssl://broker.example:8883");
  EXPECT_EQ(PahoServerUri("mqtts://broker.example:443").value(), "ssl://broker.example:443");
  EXPECT_EQ(PahoServerUri("tcp://h:1").value(), "tcp://h:1");
  EXPECT_EQ(PahoServerUri("mqtt://[::1]:1883").value(), "tcp://[::1]:1883");
  EXPECT_EQ(PahoServerUri("mqtts://[fe80::1]").value(), "ssl://[fe80::1]:8883");
}

TEST(TransportUriTest, MalformedUrlsAreRejectedWithTheUrlInTheMessage) {
  for (const char* url :
       {"http://h:1883", "mqtt://", "mqtt://:1883", "mqtt://h:0", "mqtt://h:65536", "mqtt://h:port",
        "mqtt://h:", "mqtt://h/path", "mqtt://[::1", "broker:1883"}) {
    Result<std::string> uri = PahoServerUri(url);
    ASSERT_FALSE(uri.ok()) << url;
    EXPECT_EQ(uri.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(uri.status().message().find(url), std::string::npos) << uri.status().ToString();
  }
}

TEST(TransportOptionsTest, DefaultsWithUrlAndClientIdAreValid) {
  EXPECT_TRUE(ValidateMqttOptions(Valid()).ok());
}

TEST(TransportOptionsTest, EachBadFieldIsNamed) {
  struct Case {
    const char* field;
    std::function<void(MqttOptions&)> mutate;
  };
  const Case cases[] = {
      {"client_id", [](MqttOptions& o) { o.client_id.clear(), o.clean_session = false; }},
      {"tls", [](MqttOptions& o) { o.tls = TlsOptions{}; }},  // TLS options on mqtt://
      {"password", [](MqttOptions& o) { o.password = "secret"; }},
      {"keepalive", [](MqttOptions& o) { o.keepalive = std::chrono::seconds(-1); }},
      {"connect_timeout", [](MqttOptions& o) { o.connect_timeout = std::chrono::seconds(0); }},
      {"max_inflight", [](MqttOptions& o) { o.max_inflight = 0; }},
      {"last_will.topic", [](MqttOptions& o) { o.last_will = LastWill{.topic = "a/#"}; }},
      {"last_will.qos", [](MqttOptions& o) { o.last_will = LastWill{.topic = "a", .qos = 3}; }},
  };
  for (const Case& c : cases) {
    MqttOptions o = Valid();
    c.mutate(o);
    const Status s = ValidateMqttOptions(o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.ToString();
  }
}

TEST(TransportOptionsTest, TlsFilesMustBeReadableAndAKeyNeedsItsCertificate) {
  weir::testing::TempDir dir;
  const std::string ca = (dir / "ca.pem").string();
  std::ofstream(ca) << "not checked here, only readable\n";

  MqttOptions o = Valid();
  o.url = "mqtts://broker.example";
  o.tls = TlsOptions{.ca_file = ca};
  EXPECT_TRUE(ValidateMqttOptions(o).ok());

  o.tls->ca_file = (dir / "missing.pem").string();
  Status s = ValidateMqttOptions(o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tls.ca_file"), std::string::npos) << s.ToString();

  o.tls->ca_file = ca;
  o.tls->key_file = ca;
  s = ValidateMqttOptions(o);
  EXPECT_NE(s.message().find("tls.key_file"), std::string::npos) << s.ToString();
}

TEST(TransportOptionsTest, MqttsWithoutTlsOptionsUsesTheSystemTrustStore) {
  MqttOptions o = Valid();
  o.url = "mqtts://broker.example:8883";
  EXPECT_TRUE(ValidateMqttOptions(o).ok());
}

TEST(TransportOfflineClientTest, FactoryRejectsInvalidOptions) {
  MqttOptions o = Valid();
  o.url = "ftp://x";
  EXPECT_EQ(NewPahoMqttClient(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(TransportOfflineClientTest, NothingCanBeSentBeforeConnecting) {
  auto client = NewPahoMqttClient(Valid());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_FALSE((*client)->IsConnected());
  EXPECT_EQ((*client)->Publish("a/b", "x", 1, false).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ((*client)->Subscribe({{"a/#", 1}}).code(), StatusCode::kUnavailable);
  EXPECT_EQ((*client)->InflightCount(), 0);
  EXPECT_TRUE((*client)->Disconnect(std::chrono::milliseconds(100)).ok());
}

TEST(TransportOfflineClientTest, BadTopicsAndQosAreRejectedBeforeTheConnectionIsConsidered) {
  auto client = NewPahoMqttClient(Valid());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Publish("a/+", "x", 1, false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Publish("", "x", 1, false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Publish("a", "x", 3, false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Subscribe({}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Subscribe({{"a/#", 5}}).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::transport
