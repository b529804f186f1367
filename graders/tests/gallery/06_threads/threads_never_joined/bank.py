def run_deposits(account, amounts, workers):
    # Threads started and never joined: the function returns while they still work.
    lock = threading.Lock()

    def deposit_share(share):
        for amount in share:
            approve(amount)
            with lock:
                account.balance = account.balance + amount

    for index in range(workers):
        threading.Thread(target=deposit_share, args=(amounts[index::workers],)).start()
