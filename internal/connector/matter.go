package connector

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/grantd/grantd/internal/lightsapi"
)

// Matter identifiers a bulb is described with: an OnOff cluster for on and
// off, a LevelControl cluster for brightness (Matter Application Cluster
// Specification §1.5, §1.6).
const (
	ClusterOnOff        = 0x0006
	ClusterLevelControl = 0x0008

	AttrOnOff        = 0x0000 // OnOff cluster: bool
	AttrCurrentLevel = 0x0000 // LevelControl cluster: 0–254

	CmdOff    = 0x00 // OnOff
	CmdOn     = 0x01 // OnOff
	CmdToggle = 0x02 // OnOff

	CmdMoveToLevel          = 0x00 // LevelControl, field 0x0000 Level
	CmdMoveToLevelWithOnOff = 0x04 // LevelControl, field 0x0000 Level

	fieldLevel = 0x0000

	// EndpointID is the one Matter endpoint of a bulb.
	EndpointID = "1"
	// deviceTypeDimmableLight is Matter's Dimmable Light device type.
	deviceTypeDimmableLight = "0x0101"
	maxLevel                = 254
)

// hexID formats a Matter id as managed integrations writes it.
func hexID(n int, width int) string { return fmt.Sprintf("0x%0*x", width, n) }

// parseHexID reads a Matter id such as "0x0006", "0x6" or "6".
func parseHexID(s string) (int, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x"), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a hexadecimal Matter id", s)
	}
	return int(v), nil
}

// levelOf maps brightness 0–100 to a Matter level 0–254.
func levelOf(brightness int) int { return (brightness*maxLevel + 50) / 100 }

// brightnessOf maps a Matter level 0–254 to brightness 0–100.
func brightnessOf(level int) int { return (level*100 + maxLevel/2) / maxLevel }

// Cluster is a Matter cluster of a capability report.
type Cluster struct {
	ID          string      `json:"id"`
	Revision    int         `json:"revision"`
	Name        string      `json:"name"`
	SpecVersion string      `json:"specVersion"`
	Attributes  []Attribute `json:"attributes"`
	Commands    []string    `json:"commands"`
	Events      []string    `json:"events"`
}

// Attribute is a cluster attribute with its current value.
type Attribute struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// CapabilityReport describes a device's Matter endpoints (SendConnectorEvent
// Devices[].CapabilityReport).
type CapabilityReport struct {
	Version   string           `json:"version"`
	NodeID    string           `json:"nodeId,omitempty"`
	Endpoints []ReportEndpoint `json:"endpoints"`
}

// ReportEndpoint is one endpoint of a CapabilityReport.
type ReportEndpoint struct {
	ID          string    `json:"id"`
	DeviceTypes []string  `json:"deviceTypes"`
	Clusters    []Cluster `json:"clusters"`
}

// Report returns a bulb's capability report: one endpoint with OnOff and
// LevelControl, holding its current state.
func Report(b lightsapi.Bulb) CapabilityReport {
	return CapabilityReport{Version: "1.0.0", Endpoints: []ReportEndpoint{{
		ID: EndpointID, DeviceTypes: []string{deviceTypeDimmableLight},
		Clusters: []Cluster{
			{ID: hexID(ClusterOnOff, 4), Revision: 6, Name: "OnOff", SpecVersion: "1.4",
				Attributes: []Attribute{{ID: hexID(AttrOnOff, 4), Name: "OnOff", Value: b.On}},
				Commands:   []string{hexID(CmdOff, 2), hexID(CmdOn, 2), hexID(CmdToggle, 2)}, Events: []string{}},
			{ID: hexID(ClusterLevelControl, 4), Revision: 6, Name: "LevelControl", SpecVersion: "1.4",
				Attributes: []Attribute{{ID: hexID(AttrCurrentLevel, 4), Name: "CurrentLevel", Value: levelOf(b.Brightness)}},
				Commands:   []string{hexID(CmdMoveToLevel, 2), hexID(CmdMoveToLevelWithOnOff, 2)}, Events: []string{}},
		},
	}}}
}

// StateEndpoint is a bulb's state as a Matter endpoint of a
// SendConnectorEvent (MatterEndpoint): attribute values by cluster.
type StateEndpoint struct {
	ID       string         `json:"id"`
	Clusters []StateCluster `json:"clusters"`
}

// StateCluster holds attribute values by attribute id.
type StateCluster struct {
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes"`
}

// State returns a bulb's state as a Matter endpoint.
func State(b lightsapi.Bulb) StateEndpoint {
	return StateEndpoint{ID: EndpointID, Clusters: []StateCluster{
		{ID: hexID(ClusterOnOff, 4), Attributes: map[string]any{hexID(AttrOnOff, 4): b.On}},
		{ID: hexID(ClusterLevelControl, 4), Attributes: map[string]any{hexID(AttrCurrentLevel, 4): levelOf(b.Brightness)}},
	}}
}

// Translate maps the Matter commands of an AWS.SendCommand to lightsd
// commands, in order. It refuses what a bulb cannot do.
func Translate(endpoints []CommandEndpoint) ([]lightsapi.Command, error) {
	var out []lightsapi.Command
	for _, ep := range endpoints {
		if ep.ID != EndpointID {
			return nil, fmt.Errorf("endpoint %q: a bulb has endpoint %s only", ep.ID, EndpointID)
		}
		for _, cl := range ep.Clusters {
			cluster, err := parseHexID(cl.ID)
			if err != nil {
				return nil, err
			}
			for _, cmds := range cl.Commands {
				for id, fields := range cmds {
					cmd, err := translateOne(cluster, id, fields)
					if err != nil {
						return nil, err
					}
					out = append(out, cmd...)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no command given")
	}
	return out, nil
}

// translateOne maps one Matter command of cluster.
func translateOne(cluster int, id string, fields map[string]json.RawMessage) ([]lightsapi.Command, error) {
	cmd, err := parseHexID(id)
	if err != nil {
		return nil, err
	}
	switch {
	case cluster == ClusterOnOff && cmd == CmdOff:
		return []lightsapi.Command{{Command: lightsapi.CommandOff}}, nil
	case cluster == ClusterOnOff && cmd == CmdOn:
		return []lightsapi.Command{{Command: lightsapi.CommandOn}}, nil
	case cluster == ClusterOnOff && cmd == CmdToggle:
		return []lightsapi.Command{{Command: lightsapi.CommandToggle}}, nil
	case cluster == ClusterLevelControl && (cmd == CmdMoveToLevel || cmd == CmdMoveToLevelWithOnOff):
		level, err := levelField(fields)
		if err != nil {
			return nil, err
		}
		b := brightnessOf(level)
		out := []lightsapi.Command{{Command: lightsapi.CommandBrightness, Brightness: &b}}
		if cmd == CmdMoveToLevelWithOnOff { // a level above 0 switches on, 0 off
			onOff := lightsapi.CommandOn
			if level == 0 {
				onOff = lightsapi.CommandOff
			}
			out = append(out, lightsapi.Command{Command: onOff})
		}
		return out, nil
	}
	return nil, fmt.Errorf("cluster %s command %s: not supported by a bulb", hexID(cluster, 4), id)
}

// levelField reads the Level field (0–254) of a LevelControl command.
func levelField(fields map[string]json.RawMessage) (int, error) {
	for k, raw := range fields {
		if id, err := parseHexID(k); err != nil || id != fieldLevel {
			continue
		}
		var level int
		if err := json.Unmarshal(raw, &level); err != nil {
			var s string // managed integrations may send numbers as strings
			if json.Unmarshal(raw, &s) != nil {
				return 0, fmt.Errorf("level %s is not a number", raw)
			}
			if level, err = strconv.Atoi(s); err != nil {
				return 0, fmt.Errorf("level %q is not a number", s)
			}
		}
		if level < 0 || level > maxLevel {
			return 0, fmt.Errorf("level %d is outside 0-%d", level, maxLevel)
		}
		return level, nil
	}
	return 0, fmt.Errorf("the level field %s is missing", hexID(fieldLevel, 4))
}
