#!/usr/bin/env bash
# Lesson 2: red and blue exist. Connect them with one virtual cable (a veth pair), put one end in each,
# give red 192.168.15.1/24 and blue 192.168.15.2/24, and make them reach each other.
# Check with: npm run lessons -- 02
