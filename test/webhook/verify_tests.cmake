# The verifiers of cloud senders (webhook/verify/): keys, certificates, tokens and SNS messages are
# made in the tests with OpenSSL; the HTTPS fetches go to serve's own TLS server on 127.0.0.1:0.
add_executable(eso_verify_tests
  unit_main.cc
  webhook/test_pki.cc
  webhook/base64url_test.cc
  webhook/delivery_id_test.cc
  webhook/delivery_memory_test.cc
  webhook/https_fetcher_test.cc
  webhook/pubsub_token_verifier_test.cc
  webhook/redelivery_test.cc
  webhook/sender_responses_test.cc
  webhook/sns_message_test.cc
  webhook/sns_verifier_test.cc
)
# sender_responses_test and redelivery_test: serve's answers to the verifiers' verdicts and to
# redeliveries (webhook/).
target_link_libraries(eso_verify_tests PRIVATE eso_verify eso_webhook eso_server doctest::doctest
                      OpenSSL::SSL)
doctest_discover_tests(eso_verify_tests PROPERTIES LABELS unit TIMEOUT 60)
