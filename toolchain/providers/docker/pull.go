package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
	p "github.com/pulumi/pulumi-go-provider"
)

// A Container's image is pulled when it is not present locally, as the
// official provider does.

// ensureImage returns the local image `ref`, pulling it when it is missing.
func ensureImage(ctx context.Context, ref, platform string) (image.InspectResponse, error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return image.InspectResponse{}, err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	img, err := cl.ImageInspect(cctx, ref)
	cancel()
	if err == nil {
		return img, nil
	}
	if !isNotFound(err) {
		return image.InspectResponse{}, fmt.Errorf("inspecting image %q: %w", ref, err)
	}
	p.GetLogger(ctx).InfoStatusf("pulling image %s", ref)
	if err := pullImage(ctx, ref, platform); err != nil {
		return image.InspectResponse{}, fmt.Errorf("image %q is not present locally and could not be pulled: %w", ref, err)
	}
	cctx, cancel = withTimeout(ctx, apiTimeout)
	defer cancel()
	img, err = cl.ImageInspect(cctx, ref)
	if err != nil {
		return image.InspectResponse{}, fmt.Errorf("inspecting pulled image %q: %w", ref, err)
	}
	return img, nil
}

func pullImage(ctx context.Context, ref, platform string) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := withTimeout(ctx, pullTimeout)
	defer cancel()
	rc, err := cl.ImagePull(cctx, ref, image.PullOptions{Platform: platform})
	if err != nil {
		return err
	}
	defer rc.Close()
	return streamMessages(ctx, rc, nil)
}

// streamMessages reads the daemon's JSON message stream (pull/build), shows
// progress as status lines, hands each message to onMsg (if non-nil) and
// returns the stream's error message, if any.
func streamMessages(ctx context.Context, r io.Reader, onMsg func(jsonmessage.JSONMessage)) error {
	log := p.GetLogger(ctx)
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading daemon output: %w", err)
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
		if m.ErrorMessage != "" { // old daemons fill only this (deprecated) field
			return errors.New(m.ErrorMessage)
		}
		if onMsg != nil {
			onMsg(m)
		}
		if line := strings.TrimSpace(m.Stream); line != "" {
			log.InfoStatus(line)
		} else if m.Status != "" {
			log.InfoStatus(strings.TrimSpace(m.ID + " " + m.Status))
		}
	}
}
