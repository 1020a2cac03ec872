// A provided.al2023 function in Go that speaks the Lambda Runtime API with the
// standard library only (the aws-lambda-go module is not reachable from this
// machine's registries; it makes the same HTTP calls).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(api + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			os.Exit(1)
		}
		payload, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var event map[string]interface{}
		if err := json.Unmarshal(payload, &event); err != nil {
			body, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "InvalidEvent"})
			http.Post(api+id+"/error", "application/json", bytes.NewReader(body))
			continue
		}
		fmt.Println("go handler got", id)
		if _, fail := event["fail"]; fail {
			body, _ := json.Marshal(map[string]string{"errorMessage": "asked to fail", "errorType": "GoError"})
			http.Post(api+id+"/error", "application/json", bytes.NewReader(body))
			continue
		}
		body, _ := json.Marshal(map[string]interface{}{
			"lang":     "go",
			"event":    event,
			"function": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
			"arn":      resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
			"deadline": resp.Header.Get("Lambda-Runtime-Deadline-Ms"),
		})
		r, err := http.Post(api+id+"/response", "application/json", bytes.NewReader(body))
		if err == nil {
			r.Body.Close()
		}
	}
}
