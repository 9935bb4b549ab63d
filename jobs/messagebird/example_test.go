package messagebird_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"birdcar/jobs/messagebird"
	"birdcar/jobs/messagebird/fakebird"
	"birdcar/sql/ride"
)

func ExampleNewSender() {
	// A fake MessageBird stands in for rest.messagebird.com.
	fake, err := fakebird.Start(fakebird.Options{Key: "test_key"})
	if err != nil {
		log.Fatal(err)
	}
	defer fake.Close()

	sender, err := messagebird.NewSender(messagebird.Config{
		APIKey:    "test_key",
		BaseURL:   fake.URL,
		ReportURL: "https://birdcar.example/webhook-status",
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := sender.Send(context.Background(), ride.OutboundSMS{
		Reference:  "msg-42",
		Originator: "+3197010203040",
		Recipient:  "+31612345678",
		Body:       "Your driver is 2 minutes away 🚗",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, len(res.ProviderID))

	got := fake.Accepted()[0]
	fmt.Println(got.Originator, got.Recipients, got.Reference, got.ReportURL)
	fmt.Println(got.Body)
	// Output:
	// sent 32
	// 3197010203040 [31612345678] msg-42 https://birdcar.example/webhook-status
	// Your driver is 2 minutes away 🚗
}

func ExampleSandbox() {
	res, _ := messagebird.Sandbox{}.Send(context.Background(), ride.OutboundSMS{
		Originator: "+3197010203040",
		Recipient:  "+31612345678",
		Body:       "Nothing leaves the machine.",
	})
	fmt.Println(res.Status, strings.HasPrefix(res.ProviderID, "sandbox-"))
	// Output:
	// sent true
}
