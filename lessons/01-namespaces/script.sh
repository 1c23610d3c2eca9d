#!/usr/bin/env bash
# Lesson 1: create two network namespaces, red and blue.
# Your commands run inside a private lab, as root, exactly as you type them here.
# Check with: npm run lessons -- 01
