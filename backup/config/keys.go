package config

import (
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// unknownKeys reports every mapping key of n that type t has no field for,
// at the key's own line. yaml.v3 checks this only when decoding from a
// stream (Decoder.KnownFields), which would mean re-marshalling the parsed
// and expanded document and reporting that copy's lines.
func unknownKeys(n *yaml.Node, t reflect.Type, key string) []Problem {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Problem
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key: its mapping's keys are checked where it is defined
				continue
			}
			sub := join(key, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				out = append(out, Problem{Key: sub, Line: k.Line, Msg: "unknown key (check the spelling against config.example.yaml)"})
				continue
			}
			out = append(out, unknownKeys(v, ft, sub)...)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, unknownKeys(n.Content[i+1], t.Elem(), join(key, n.Content[i].Value))...)
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, c := range n.Content {
			out = append(out, unknownKeys(c, t.Elem(), key+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return out
}

// yamlFields maps a struct's YAML key names to field types (inline structs
// contribute their own keys).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default
		}
		out[name] = f.Type
	}
	return out
}

func join(key, k string) string {
	if key == "" {
		return k
	}
	return key + "." + k
}
