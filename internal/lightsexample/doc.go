// Package lightsexample holds the end-to-end tests of the Lights
// Incorporated example: grantd (the authorization server), lightsd (the
// device cloud), lights-connector (the C2C connector) and lightctl (the
// device app), built and run as processes on loopback, with a user in
// headless Chromium and a stand-in AWS IoT managed integrations; and the
// dependency test that keeps the three demo programs to grantd's public
// HTTP interface.
package lightsexample
