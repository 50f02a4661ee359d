#!/bin/sh
# Makes the test certificates in this directory (run it here; they are checked in, so tests
# need no openssl binary): a tree's authority (ca.pem) and the certificate its actors share
# (actor.pem, actor.key); an unrelated authority (other_ca.pem) and a certificate it signed
# (stranger.pem, stranger.key), which the tree must refuse. P-256 keys, valid for 100 years.
set -eu
days=36500
req() { openssl req -new -key "$1" -subj "/CN=$2" -out "$2.csr"; }
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -subj "/CN=tractor test authority" -days $days -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out other_ca.key
openssl req -x509 -new -key other_ca.key -subj "/CN=another authority" -days $days -out other_ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out actor.key
req actor.key tractor-actor
openssl x509 -req -in tractor-actor.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days $days -out actor.pem
openssl ecparam -name prime256v1 -genkey -noout -out stranger.key
req stranger.key stranger
openssl x509 -req -in stranger.csr -CA other_ca.pem -CAkey other_ca.key -CAcreateserial -days $days -out stranger.pem
rm -f ./*.csr ./*.srl ca.key other_ca.key
chmod 600 actor.key stranger.key
