#!/usr/bin/env bash
ip netns add red
ip netns add blue
