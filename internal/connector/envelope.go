package connector

import "encoding/json"

// Operation names managed integrations sends.
const (
	OpActivateUser    = "AWS.ActivateUser"
	OpDiscoverDevices = "AWS.DiscoverDevices"
	OpSendCommand     = "AWS.SendCommand"
	OpDeactivateUser  = "AWS.DeactivateUser"
)

// Auth types of the request header.
const (
	AuthOAuth2  = "OAuth2.0"
	AuthGeneral = "GeneralAuthorization"
)

// Request is the envelope of every invocation.
type Request struct {
	Header struct {
		Auth *Auth `json:"auth"`
	} `json:"header"`
	Payload *Payload `json:"payload"`
}

// Auth is the end user's credential.
type Auth struct {
	Token string `json:"token"`
	Type  string `json:"type"`
}

// Payload is the operation and its arguments.
type Payload struct {
	OperationName     string            `json:"operationName"`
	OperationVersion  string            `json:"operationVersion"`
	ConnectorID       string            `json:"connectorId"`
	DeviceDiscoveryID string            `json:"deviceDiscoveryId,omitempty"`
	ConnectorDeviceID string            `json:"connectorDeviceId,omitempty"`
	TraceID           string            `json:"traceId,omitempty"`
	Endpoints         []CommandEndpoint `json:"endpoints,omitempty"`
}

// CommandEndpoint is a Matter endpoint of an AWS.SendCommand, with the
// cluster commands to run on it.
type CommandEndpoint struct {
	ID       string           `json:"id"`
	Clusters []CommandCluster `json:"clusters"`
}

// CommandCluster holds commands of one Matter cluster: each element maps
// a command id ("0x01") to its fields ({"0x0000": 128}).
type CommandCluster struct {
	ID       string                                  `json:"id"`
	Commands []map[string]map[string]json.RawMessage `json:"commands"`
}

// Response is the answer of every invocation.
type Response struct {
	Header  ResponseHeader  `json:"header"`
	Payload ResponsePayload `json:"payload"`
}

// ResponseHeader carries the response code, an HTTP status code.
type ResponseHeader struct {
	ResponseCode int `json:"responseCode"`
}

// ResponsePayload is the answer's message, and ActivateUser's user id.
type ResponsePayload struct {
	ResponseMessage string `json:"responseMessage"`
	UserID          string `json:"userId,omitempty"`
}

// respond builds a Response.
func respond(code int, message string) Response {
	return Response{Header: ResponseHeader{ResponseCode: code}, Payload: ResponsePayload{ResponseMessage: message}}
}
