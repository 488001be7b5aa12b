#include "webhook/verify/delivery_memory.h"

#include <atomic>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "test/webhook/fakes.h"

namespace eso::webhook {

using namespace std::chrono_literals;

TEST_CASE("Deliveries: a redelivery after success is a duplicate") {
  DeliveryMemory memory;
  CHECK(memory.begin("pubsub:1") == DeliveryStart::kNew);
  memory.finish("pubsub:1", true);
  CHECK(memory.begin("pubsub:1") == DeliveryStart::kDuplicate);
  CHECK(memory.begin("pubsub:1") == DeliveryStart::kDuplicate);
  CHECK(memory.begin("pubsub:2") == DeliveryStart::kNew);
}

TEST_CASE("Deliveries: a redelivery after a failure is processed again") {
  DeliveryMemory memory;
  CHECK(memory.begin("sns:a") == DeliveryStart::kNew);
  memory.finish("sns:a", false);
  CHECK(memory.size() == 0);
  CHECK(memory.begin("sns:a") == DeliveryStart::kNew);
  memory.finish("sns:a", true);
  CHECK(memory.begin("sns:a") == DeliveryStart::kDuplicate);
  // A late failure report for a delivery already done does not forget it.
  memory.finish("sns:a", false);
  CHECK(memory.begin("sns:a") == DeliveryStart::kDuplicate);
}

TEST_CASE("Deliveries: a concurrent duplicate is in flight") {
  DeliveryMemory memory;
  CHECK(memory.begin("eventgrid:x") == DeliveryStart::kNew);
  CHECK(memory.begin("eventgrid:x") == DeliveryStart::kInFlight);
  memory.finish("eventgrid:x", true);
  CHECK(memory.begin("eventgrid:x") == DeliveryStart::kDuplicate);
}

TEST_CASE("Deliveries: remembered for the ttl from the end of processing") {
  test::FakeClock time;
  DeliveryMemory memory({100, 600s}, time.clock());
  CHECK(memory.begin("a") == DeliveryStart::kNew);
  time.advance(500s);
  memory.finish("a", true);
  time.advance(599s);
  CHECK(memory.begin("a") == DeliveryStart::kDuplicate);
  time.advance(1s);
  CHECK(memory.begin("a") == DeliveryStart::kNew);
  // An unfinished delivery is not held in flight for ever.
  time.advance(600s);
  CHECK(memory.begin("a") == DeliveryStart::kNew);
}

TEST_CASE("Deliveries: the memory is bounded and forgets the oldest first") {
  DeliveryMemory memory({3, 3600s});
  for (const char* id : {"1", "2", "3", "4"}) {
    REQUIRE(memory.begin(id) == DeliveryStart::kNew);
    memory.finish(id, true);
  }
  CHECK(memory.size() == 3);
  CHECK(memory.begin("1") == DeliveryStart::kNew);  // forgotten: processed again
  CHECK(memory.begin("3") == DeliveryStart::kDuplicate);
  CHECK(memory.begin("4") == DeliveryStart::kDuplicate);
  CHECK(memory.size() == 3);
  DeliveryMemory none({0, 3600s});
  CHECK(none.begin("x") == DeliveryStart::kNew);
  none.finish("x", true);
  CHECK(none.begin("x") == DeliveryStart::kNew);
}

TEST_CASE("Deliveries: many threads beginning the same id start it once") {
  DeliveryMemory memory;
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (memory.begin("id-" + std::to_string(i)) == DeliveryStart::kNew) ++started;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(started == 200);
}

}  // namespace eso::webhook
